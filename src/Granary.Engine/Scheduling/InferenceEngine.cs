using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Model.Runtime;
using Granary.Model.Sampling;
using Granary.Model.Tokenization;
using static TorchSharp.torch;

namespace Granary.Engine.Scheduling;

/// <summary>What one step did to one sequence: the token it sampled, the text it may now emit, and whether it is done.</summary>
public sealed record SequenceUpdate(Sequence Sequence, int TokenId, string NewText)
{
    /// <summary>Set when the request asked for log-probabilities.</summary>
    public TokenLogprob? Logprob { get; init; }

    public bool IsFinished => Sequence.IsFinished;
}

/// <summary>
/// The engine loop on one model: <c>Step()</c> = schedule, one batched forward, sample, update — the same
/// three moves whatever the batch holds (new prompts, prompt chunks, decodes). Not thread-safe: one caller
/// drives it (the router grain, or <see cref="BatchGenerator"/>).
/// </summary>
public sealed class InferenceEngine(ICausalLm model, TextTokenizer tokenizer, SchedulerOptions options)
{
    readonly Scheduler _scheduler = new(options, model.NewCache);
    readonly IReadOnlySet<int> _eosTokenIds = model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds).ToHashSet();
    long _nextId;

    public Scheduler Scheduler => _scheduler;

    public bool HasWork => _scheduler.HasWork;

    /// <summary>Validates and queues a request. Throws <see cref="GranaryUserError"/> for bad input and
    /// <see cref="QueueFullException"/> when the queue is full.</summary>
    public Sequence Submit(GenerationRequest request)
    {
        Validate(request);
        int maxTotalTokens = Math.Min(model.Config.MaxPositionEmbeddings, request.PromptTokenIds.Count + request.Sampling.MaxTokens);
        var sequence = new Sequence(_nextId++, request, maxTotalTokens, tokenizer, _eosTokenIds);
        try
        {
            _scheduler.Add(sequence);
        }
        catch
        {
            sequence.Dispose();
            throw;
        }
        return sequence;
    }

    public void Cancel(Sequence sequence) => _scheduler.Cancel(sequence);

    /// <summary>Runs one iteration; returns the sequences that sampled a token in it.</summary>
    public IReadOnlyList<SequenceUpdate> Step() => StepPlanned(_scheduler.Schedule());

    /// <summary>Runs a plan made by <see cref="Scheduling.Scheduler.Schedule"/> (tests inspect plans first).</summary>
    public IReadOnlyList<SequenceUpdate> StepPlanned(IReadOnlyList<ScheduledChunk> chunks)
    {
        if (chunks.Count == 0) return [];
        var inputs = chunks.Select(c => new StepInput(c.Sequence.Cache, c.TokenIds)).ToList();
        using var logits = model.Step(inputs); // [chunks, V]: one row per chunk (its last token)
        var sampling = chunks.Select((chunk, row) => (chunk.Sequence, Row: row, chunk.SamplesNextToken))
            .Where(c => c.SamplesNextToken)
            .ToList();
        if (sampling.Count == 0) return [];
        using var rows = tensor(sampling.Select(s => (long)s.Row).ToArray(), int64, logits.device);
        using var sampledLogits = logits.index_select(0, rows);
        int[] tokenIds = BatchSampler.Sample(sampledLogits, sampling.Select(s => s.Sequence.Sampler).ToList());
        var logprobs = LogprobReport.For(sampledLogits, tokenIds, sampling.Select(s => s.Sequence.Request.TopLogprobs).ToList(), tokenizer);
        return sampling.Select((s, i) => new SequenceUpdate(s.Sequence, tokenIds[i], s.Sequence.Append(tokenIds[i])) { Logprob = logprobs[i] })
            .ToList();
    }

    void Validate(GenerationRequest request)
    {
        if (request.Sampling.Validate() is { } problem) throw new GranaryUserError(problem);
        if (request.TopLogprobs is < 0) throw new GranaryUserError($"top_logprobs must be >= 0 (got {request.TopLogprobs})");
        int context = model.Config.MaxPositionEmbeddings;
        int numPromptTokens = request.PromptTokenIds.Count;
        if (numPromptTokens == 0) throw new GranaryUserError("the prompt is empty");
        if (numPromptTokens >= context)
            throw new GranaryUserError(
                $"the prompt is {numPromptTokens} tokens but the model's context is {context} tokens (max_position_embeddings); shorten the prompt");
        int vocab = model.Config.VocabSize;
        foreach (int id in request.PromptTokenIds)
            if (id < 0 || id >= vocab)
                throw new GranaryUserError($"token id {id} is outside the model's vocabulary (0..{vocab - 1})");
    }
}
