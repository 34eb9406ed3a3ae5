using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.KvReuse;
using Granary.Engine.Speculation;
using Granary.Model.Runtime;
using Granary.Model.Sampling;
using Granary.Model.Tokenization;
using static TorchSharp.torch;

namespace Granary.Engine.Scheduling;

/// <summary>
/// The engine loop on one model: <c>Step()</c> = schedule, one batched forward, sample, update — the same
/// three moves whatever the batch holds (new prompts, prompt chunks, decodes). With a draft model, decodes
/// that the scheduler gave k speculative positions first get k draft proposals, the one target forward
/// verifies them together with everything else, and each such sequence emits 1..k + 1 tokens. Not
/// thread-safe: one caller drives it (the router grain, or <see cref="BatchGenerator"/>).
/// </summary>
public sealed class InferenceEngine
{
    readonly ICausalLm _model;
    readonly TextTokenizer _tokenizer;
    readonly Scheduler _scheduler;
    readonly SchedulerOptions _options;
    readonly IDrafter? _draft;
    readonly IReadOnlySet<int> _eosTokenIds;
    readonly bool _useThreadCpuTime;
    long _nextId;

    public InferenceEngine(ICausalLm model, TextTokenizer tokenizer, SchedulerOptions options, IDrafter? draft = null, SpeculationOptions? speculation = null, KvTierManager? kvTiers = null)
    {
        _model = model;
        _tokenizer = tokenizer;
        _eosTokenIds = model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds).ToHashSet();
        speculation ??= new SpeculationOptions();
        if (speculation.Validate() is { } problem) throw new ArgumentException(problem, nameof(speculation));
        SpeculationPlanner? planner = null;
        if (draft is not null && speculation.NumSpeculativeTokens > 0)
        {
            DraftCompatibility.Check(draft.VocabSize, draft.MaxPositionEmbeddings, model);
            _draft = draft;
            double ratio = (double)draft.NumKvBytesPerPosition / model.NumKvBytesPerPosition;
            planner = new SpeculationPlanner(draft.NewCache, ratio, new SpeculationController(speculation.NumSpeculativeTokens, speculation.IsAdaptive));
        }
        _options = options;
        _scheduler = new Scheduler(options, model.NewCache, planner, kvTiers);
        // NOTE: on a CPU run with one intra-op thread every op runs on this thread, so its CPU time is the
        // step's cost without the time a shared machine gave other processes: a far steadier signal for
        // the adaptive k than wall time. Elsewhere (GPU, several threads) wall time is the cost.
        _useThreadCpuTime = model is CausalLm { Device.type: TorchSharp.DeviceType.CPU } && get_num_threads() == 1 && ThreadCpuClock.Seconds() is not null;
    }

    /// <summary>Counters of draft, accepted and emitted speculative tokens (all zero without a draft).</summary>
    public SpeculationStats SpeculationStats { get; } = new();

    /// <summary>Whether a draft model is attached (speculation may still be off for a step or a batch size).</summary>
    public bool IsSpeculative => _draft is not null;

    public Scheduler Scheduler => _scheduler;

    public bool HasWork => _scheduler.HasWork;

    /// <summary>Validates and queues a request. Throws <see cref="GranaryUserError"/> for bad input and
    /// <see cref="QueueFullException"/> when the queue is full.</summary>
    public Sequence Submit(GenerationRequest request)
    {
        Validate(request);
        int maxTotalTokens = Math.Min(Math.Min(_model.Config.MaxPositionEmbeddings, _options.MaxSequenceTokens ?? int.MaxValue),
            request.PromptTokenIds.Count + request.Sampling.MaxTokens);
        var sequence = new Sequence(_nextId++, request, maxTotalTokens, _tokenizer, _eosTokenIds);
        try
        {
            if (_scheduler.KvTiers is { } kvTiers) sequence.QueueOrder = kvTiers.OnSubmitted(request, sequence.Id);
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
        var clock = StepClock.Start(_useThreadCpuTime);
        var proposals = Propose(chunks);
        try
        {
            var inputs = chunks.Select((c, i) => proposals[i] is { } proposal
                ? new StepInput(c.Sequence.Cache, [.. c.TokenIds, .. proposal.TokenIds], AllLogits: true)
                : new StepInput(c.Sequence.Cache, c.TokenIds)).ToList();
            if (_model is IVocabParallelLm { SplitsVocabulary: true } vocabParallel && proposals.All(p => p is null))
            {
                using var parts = vocabParallel.StepParts(inputs);
                var sampled = SampleParts(chunks, parts, _tokenizer);
                ObserveThroughput(chunks, sampled, clock.ElapsedSeconds);
                return sampled;
            }
            using var logits = _model.Step(inputs); // [rows, V]: each chunk's last token, or all k + 1 when it speculates
            var updates = proposals.All(p => p is null) ? SamplePlain(chunks, logits) : SampleSpeculative(chunks, inputs, proposals, logits);
            ObserveThroughput(chunks, updates, clock.ElapsedSeconds);
            return updates;
        }
        finally
        {
            foreach (var proposal in proposals) proposal?.Dispose();
        }
    }

    DraftProposal?[] Propose(IReadOnlyList<ScheduledChunk> chunks)
    {
        var proposals = new DraftProposal?[chunks.Count];
        var speculating = Enumerable.Range(0, chunks.Count).Where(i => chunks[i].NumSpeculativeTokens > 0).ToList();
        if (speculating.Count == 0) return proposals;
        var draft = _draft ?? throw new InvalidOperationException("a plan asks for speculation but the engine has no draft model");
        var made = draft.Propose(speculating.Select(i => chunks[i].Sequence).ToList(), speculating.Select(i => chunks[i].NumSpeculativeTokens).ToList());
        for (int j = 0; j < speculating.Count; j++) proposals[speculating[j]] = made[j];
        return proposals;
    }

    // Plain decoding: one row per chunk, sampled in one batch.
    List<SequenceUpdate> SamplePlain(IReadOnlyList<ScheduledChunk> chunks, Tensor logits)
    {
        var sampling = chunks.Select((chunk, row) => (chunk.Sequence, Row: row, chunk.SamplesNextToken))
            .Where(c => c.SamplesNextToken)
            .ToList();
        if (sampling.Count == 0) return [];
        using var rows = tensor(sampling.Select(s => (long)s.Row).ToArray(), int64, logits.device);
        using var sampledLogits = logits.index_select(0, rows);
        int[] tokenIds = BatchSampler.Sample(sampledLogits, sampling.Select(s => s.Sequence.Sampler).ToList());
        var logprobs = LogprobReport.For(sampledLogits, tokenIds, sampling.Select(s => s.Sequence.Request.TopLogprobs).ToList(), _tokenizer);
        return sampling.Select((s, i) => new SequenceUpdate(s.Sequence, [tokenIds[i]], s.Sequence.Append(tokenIds[i]))
            {
                Logprobs = logprobs[i] is { } logprob ? [logprob] : null,
            })
            .ToList();
    }

    // Plain decoding over a vocabulary-parallel model: the parts keep their logits; only summaries move.
    static List<SequenceUpdate> SampleParts(IReadOnlyList<ScheduledChunk> chunks, VocabParallelLogits parts, TextTokenizer tokenizer)
    {
        var sampling = chunks.Select((chunk, row) => (chunk.Sequence, Row: row, chunk.SamplesNextToken)).Where(c => c.SamplesNextToken).ToList();
        if (sampling.Count == 0) return [];
        int[] tokenIds = PartitionedSampler.Sample(parts.Parts, sampling.Select(s => s.Sequence.Sampler.RequestFor(s.Row)).ToList());
        var logprobs = LogprobReport.For(parts, sampling.Select(s => s.Row).ToList(), tokenIds, sampling.Select(s => s.Sequence.Request.TopLogprobs).ToList(), tokenizer);
        return sampling.Select((s, i) => new SequenceUpdate(s.Sequence, [tokenIds[i]], s.Sequence.Append(tokenIds[i]))
            {
                Logprobs = logprobs[i] is { } logprob ? [logprob] : null,
            })
            .ToList();
    }

    // A step with speculating chunks: plain rows are sampled as above, speculating ones verified; then the
    // log-probabilities of every emitted token come from its own row in one bulk read-out.
    List<SequenceUpdate> SampleSpeculative(IReadOnlyList<ScheduledChunk> chunks, IReadOnlyList<StepInput> inputs, DraftProposal?[] proposals, Tensor logits)
    {
        long[] argmax = logits.argmax(1).cpu().data<long>().ToArray();
        var plainRows = new List<(int Chunk, int Row)>();
        int row = 0;
        for (int i = 0; i < chunks.Count; i++)
        {
            if (proposals[i] is null && chunks[i].SamplesNextToken) plainRows.Add((i, row));
            row += inputs[i].NumLogitRows;
        }
        int[] plainTokens = [];
        if (plainRows.Count > 0)
        {
            using var rowIds = tensor(plainRows.Select(r => (long)r.Row).ToArray(), int64, logits.device);
            using var plainLogits = logits.index_select(0, rowIds);
            plainTokens = BatchSampler.Sample(plainLogits, plainRows.Select(r => chunks[r.Chunk].Sequence.Sampler).ToList());
        }
        var emitted = new List<(Sequence Sequence, IReadOnlyList<int> Tokens, string Text, int FirstRow)>();
        int plain = 0;
        row = 0;
        for (int i = 0; i < chunks.Count; i++)
        {
            var sequence = chunks[i].Sequence;
            if (proposals[i] is { } proposal)
            {
                var verification = SpeculativeVerifier.Verify(sequence, proposal, logits, row, argmax, SpeculationStats);
                emitted.Add((sequence, verification.TokenIds, verification.Text, row));
            }
            else if (chunks[i].SamplesNextToken)
            {
                int token = plainTokens[plain++];
                emitted.Add((sequence, [token], sequence.Append(token), row));
            }
            row += inputs[i].NumLogitRows;
        }
        var logprobs = Logprobs(emitted.Select(e => (e.Sequence, e.Tokens, e.FirstRow)).ToList(), logits);
        return emitted.Select((e, i) => new SequenceUpdate(e.Sequence, e.Tokens, e.Text) { Logprobs = logprobs[i] }).ToList();
    }

    // Token j of an update came from row FirstRow + j (a verified position, or the chunk's only row).
    List<TokenLogprob>?[] Logprobs(IReadOnlyList<(Sequence Sequence, IReadOnlyList<int> Tokens, int FirstRow)> emitted, Tensor logits)
    {
        var result = new List<TokenLogprob>?[emitted.Count];
        var asking = Enumerable.Range(0, emitted.Count).Where(i => emitted[i].Sequence.Request.TopLogprobs is not null).ToList();
        if (asking.Count == 0) return result;
        var rows = asking.SelectMany(i => emitted[i].Tokens.Select((_, j) => (long)(emitted[i].FirstRow + j))).ToArray();
        var tokens = asking.SelectMany(i => emitted[i].Tokens).ToArray();
        var tops = asking.SelectMany(i => emitted[i].Tokens.Select(_ => emitted[i].Sequence.Request.TopLogprobs)).ToList();
        using var rowIds = tensor(rows, int64, logits.device);
        using var selected = logits.index_select(0, rowIds);
        var all = LogprobReport.For(selected, tokens, tops, _tokenizer);
        int next = 0;
        foreach (int i in asking)
        {
            result[i] = all.Skip(next).Take(emitted[i].Tokens.Count).Select(l => l!).ToList();
            next += emitted[i].Tokens.Count;
        }
        return result;
    }

    // Pure decode steps teach the controller what each cap on k yields at this batch size.
    void ObserveThroughput(IReadOnlyList<ScheduledChunk> chunks, IReadOnlyList<SequenceUpdate> updates, double seconds)
    {
        if (_scheduler.Speculation is not { } planner || chunks.Any(c => c.Sequence.IsPrefilling || c.TokenIds.Count != 1)) return;
        var (batchSize, cap) = planner.LastPlan;
        if (batchSize != chunks.Count) return; // a plan not made by Schedule (tests)
        planner.Controller.Observe(batchSize, cap, updates.Sum(u => u.TokenIds.Count), seconds);
    }

    void Validate(GenerationRequest request)
    {
        if (request.Sampling.Validate() is { } problem) throw new GranaryUserError(problem);
        if (request.TopLogprobs is < 0) throw new GranaryUserError($"top_logprobs must be >= 0 (got {request.TopLogprobs})");
        int context = _model.Config.MaxPositionEmbeddings;
        int numPromptTokens = request.PromptTokenIds.Count;
        if (numPromptTokens == 0) throw new GranaryUserError("the prompt is empty");
        if (numPromptTokens >= context)
            throw new GranaryUserError(
                $"the prompt is {numPromptTokens} tokens but the model's context is {context} tokens (max_position_embeddings); shorten the prompt");
        if (_options.MaxSequenceTokens is { } maxSequence && numPromptTokens >= maxSequence)
            throw new GranaryUserError(
                $"the prompt is {numPromptTokens} tokens but one sequence may hold at most {maxSequence} KV positions here (Granary:KvTokensPerShard x the plan's sequence shards); shorten the prompt or serve with more sequence shards (sp)");
        int vocab = _model.Config.VocabSize;
        foreach (int id in request.PromptTokenIds)
            if (id < 0 || id >= vocab)
                throw new GranaryUserError($"token id {id} is outside the model's vocabulary (0..{vocab - 1})");
    }
}
