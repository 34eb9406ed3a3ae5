using System.Diagnostics;
using Granary.Abstractions;
using Granary.Model.Runtime;
using Granary.Model.Sampling;
using Granary.Model.Tokenization;
using static TorchSharp.torch;

namespace Granary.Engine.Generation;

/// <summary>
/// Runs a fixed set of requests to completion on one model: one ragged prefill of all prompts, then
/// batched decode steps in which every unfinished sequence advances one token. Finished sequences leave
/// the batch; the rest keep going. (Requests joining mid-flight is the router's job, in [cluster].)
/// </summary>
public sealed class BatchGenerator(CausalLm model, TextTokenizer tokenizer)
{
    readonly IReadOnlySet<int> _eosTokenIds = model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds).ToHashSet();

    /// <summary>Most tokens one prefill forward takes; longer prompts are prefilled in chunks.</summary>
    public int MaxPrefillTokensPerStep { get; init; } = 2048;

    /// <summary>Called with each piece of text as soon as it is safe to emit: (request index, text).</summary>
    public Action<int, string>? OnText { get; init; }

    public (IReadOnlyList<GenerationResult> Results, GenerationTimings Timings) Generate(IReadOnlyList<GenerationRequest> requests)
    {
        foreach (var request in requests) Validate(request);
        var sequences = requests.Select((r, i) => NewSequence(r, i)).ToList();
        try
        {
            var watch = Stopwatch.StartNew();
            Prefill(sequences);
            double prefillMs = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            int numDecodeTokens = 0;
            while (sequences.Any(s => !s.IsFinished))
                numDecodeTokens += DecodeStep(sequences);
            var timings = new GenerationTimings(prefillMs, watch.Elapsed.TotalMilliseconds, numDecodeTokens);
            return (sequences.Select(s => s.ToResult()).ToList(), timings);
        }
        finally
        {
            foreach (var sequence in sequences) sequence.Dispose();
        }
    }

    void Validate(GenerationRequest request)
    {
        if (request.Sampling.Validate() is { } problem) throw new GranaryUserError(problem);
        int context = model.Config.MaxPositionEmbeddings;
        int numPromptTokens = request.PromptTokenIds.Count;
        if (numPromptTokens == 0) throw new GranaryUserError("the prompt is empty");
        if (numPromptTokens >= context)
            throw new GranaryUserError(
                $"the prompt is {numPromptTokens} tokens but the model's context is {context} tokens (max_position_embeddings); shorten the prompt");
        int vocab = model.Config.VocabSize;
        if (request.PromptTokenIds.FirstOrDefault(id => id < 0 || id >= vocab, -1) is var bad and >= 0)
            throw new GranaryUserError($"token id {bad} is outside the model's vocabulary (0..{vocab - 1})");
    }

    Sequence NewSequence(GenerationRequest request, int index)
    {
        int capacity = Math.Min(model.Config.MaxPositionEmbeddings, request.PromptTokenIds.Count + request.Sampling.MaxTokens);
        return new Sequence(index, request, model.NewCache(capacity), tokenizer, _eosTokenIds);
    }

    // Prompts are packed into forwards of at most MaxPrefillTokensPerStep tokens; a sequence samples its
    // first token from the forward that completes its prompt.
    void Prefill(IReadOnlyList<Sequence> sequences)
    {
        var queue = new Queue<Sequence>(sequences);
        int resumeAt = 0; // prompt tokens of queue.Peek() already prefilled by an earlier chunk
        while (queue.Count > 0)
        {
            var inputs = new List<StepInput>();
            var completing = new List<(Sequence Sequence, int Row)>();
            int budget = MaxPrefillTokensPerStep;
            while (queue.Count > 0 && budget > 0)
            {
                var sequence = queue.Peek();
                var prompt = sequence.Request.PromptTokenIds;
                int take = Math.Min(budget, prompt.Count - resumeAt);
                inputs.Add(new StepInput(sequence.Cache, prompt.Skip(resumeAt).Take(take).ToArray()));
                budget -= take;
                resumeAt += take;
                if (resumeAt < prompt.Count) break; // the rest of this prompt goes in the next forward
                completing.Add((queue.Dequeue(), inputs.Count - 1));
                resumeAt = 0;
            }
            using var logits = model.Step(inputs);
            SampleAndAppend(completing.Select(c => c.Sequence).ToList(), logits, completing.Select(c => c.Row).ToArray());
        }
    }

    int DecodeStep(IReadOnlyList<Sequence> sequences)
    {
        var running = sequences.Where(s => !s.IsFinished).ToList();
        var inputs = running.Select(s => new StepInput(s.Cache, [s.LastTokenId])).ToList();
        using var logits = model.Step(inputs);
        SampleAndAppend(running, logits, Enumerable.Range(0, running.Count).ToArray());
        return running.Count;
    }

    // logits: [inputs, V]; rows picks the row of each sequence.
    void SampleAndAppend(IReadOnlyList<Sequence> sequences, Tensor logits, int[] rows)
    {
        if (sequences.Count == 0) return;
        using var rowIndex = tensor(rows.Select(r => (long)r).ToArray(), int64, logits.device);
        using var selected = logits.index_select(0, rowIndex);
        int[] tokenIds = BatchSampler.Sample(selected, sequences.Select(s => s.Sampler).ToList());
        for (int i = 0; i < sequences.Count; i++)
        {
            string text = sequences[i].Append(tokenIds[i]);
            if (text.Length > 0) OnText?.Invoke(sequences[i].Index, text);
        }
    }
}
