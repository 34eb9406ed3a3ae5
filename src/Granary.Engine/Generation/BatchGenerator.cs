using System.Diagnostics;
using Granary.Engine.Scheduling;
using Granary.Engine.Speculation;
using Granary.Model.Runtime;
using Granary.Model.Tokenization;

namespace Granary.Engine.Generation;

/// <summary>
/// Runs a fixed set of requests to completion on one model (the CLI's `generate`, benchmarks, tests): all
/// are submitted at once to an <see cref="InferenceEngine"/>, which steps until every one has finished.
/// With a <paramref name="draft"/>, decoding is speculative.
/// </summary>
public sealed class BatchGenerator(ICausalLm model, TextTokenizer tokenizer, IDrafter? draft = null, SpeculationOptions? speculation = null)
{
    /// <summary>Most tokens one forward takes; longer prompts are prefilled in chunks.</summary>
    public int MaxPrefillTokensPerStep { get; init; } = 2048;

    /// <summary>Called with each piece of text as soon as it is safe to emit: (request index, text).</summary>
    public Action<int, string>? OnText { get; init; }

    /// <summary>Counters of the last <see cref="Generate"/> call's speculation (zero without a draft).</summary>
    public SpeculationSnapshot? LastSpeculation { get; private set; }

    public (IReadOnlyList<GenerationResult> Results, GenerationTimings Timings) Generate(IReadOnlyList<GenerationRequest> requests)
    {
        var options = new SchedulerOptions
        {
            MaxNumRunningSequences = Math.Max(1, requests.Count),
            MaxNumBatchedTokens = Math.Max(MaxPrefillTokensPerStep, requests.Count),
            MaxNumWaiting = requests.Count,
        };
        var engine = new InferenceEngine(model, tokenizer, options, draft, speculation);
        var sequences = new List<Sequence>(requests.Count);
        try
        {
            foreach (var request in requests) sequences.Add(engine.Submit(request));
            var watch = Stopwatch.StartNew();
            double prefillMs = 0;
            bool prefilled = false;
            while (engine.HasWork)
            {
                foreach (var update in engine.Step())
                    if (update.NewText.Length > 0) OnText?.Invoke((int)update.Sequence.Id, update.NewText);
                if (!prefilled && sequences.All(s => s.OutputTokenIds.Count > 0))
                {
                    prefilled = true;
                    prefillMs = watch.Elapsed.TotalMilliseconds;
                }
            }
            int numDecodeTokens = sequences.Sum(s => s.OutputTokenIds.Count - 1);
            LastSpeculation = engine.SpeculationStats.Snapshot();
            var timings = new GenerationTimings(prefillMs, watch.Elapsed.TotalMilliseconds - prefillMs, numDecodeTokens);
            return (sequences.Select(s => s.ToResult()).ToList(), timings);
        }
        finally
        {
            foreach (var sequence in sequences) sequence.Dispose();
        }
    }
}
