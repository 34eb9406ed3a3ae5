using System.Collections.Concurrent;
using System.Diagnostics;
using Granary.Model.Configuration;
using Granary.Model.KvCache;
using Granary.Model.Runtime;
using Granary.Model.Sampling;
using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Grains.Sharding;

/// <summary>
/// A model whose shards are grains, as the router's engine sees it. A step may be cut into micro-batches (one
/// per pipeline stage; <see cref="MicroBatchPolicy"/> measures whether that pays) that flow through the
/// stages like a pipeline: stage s+1 runs micro-batch i while stage s runs micro-batch i+1. Each stage takes micro-batches in order, so the
/// tensor-parallel ranks of a stage always meet in the same all-reduces. The last stage's rank 0 returns the
/// logits. Under vocabulary parallelism the vocabulary parts' shards embed the step's ids (their partial
/// embeddings are summed into the first stage's input) and keep the logits of their ranges, which the
/// engine samples without gathering them (<see cref="StepParts"/>). Blocking by design: the engine calls
/// it from its serving thread, never from a grain turn.
/// </summary>
/// <remarks>
/// Under sequence parallelism each stage's grains are its sequence shards (in order): every step the router
/// assigns each sequence's new positions to them (<see cref="SequencePositions"/>), sends each shard only its
/// rows, and puts their outputs back in step order; their attention meets through their own exchanges.
/// </remarks>
public sealed class GrainShardedCausalLm(ModelConfig config, IReadOnlyList<IReadOnlyList<IShardGrain>> stages, long numWeightBytes, long numKvBytesPerPosition,
    IReadOnlyList<(IVocabPartGrain Shard, VocabRange Range)>? vocabParts = null, int sequenceShards = 1, int? kvTokensPerShard = null, ShardLeases? leases = null)
    : IVocabParallelLm
{
    readonly IReadOnlyList<(IVocabPartGrain Shard, VocabRange Range)> _vocabParts = vocabParts ?? [];
    readonly ConcurrentQueue<long> _released = new();
    readonly ConcurrentQueue<KvTiers.KvBlockOp> _kvOps = new();
    readonly Lock _entry = new();             // steps enter the pipeline one at a time (see RunStages)
    readonly Task[] _stageTails = Enumerable.Repeat(Task.CompletedTask, stages.Count).ToArray(); // per stage: the last call sent to it
    long _nextSequenceId;
    long _nextStepId;

    public ModelConfig Config { get; } = config;

    public long NumWeightBytes { get; } = numWeightBytes;

    public long NumKvBytesPerPosition { get; } = numKvBytesPerPosition;

    public int NumStages => stages.Count;

    /// <summary>Micro-batches per step: measured per deployment unless fixed (1 turns pipelining off).</summary>
    public MicroBatchPolicy MicroBatches { get; } = new(stages.Count);

    /// <summary>What the steps so far cost on the wire (for `granary bench pp`).</summary>
    public ShardTraffic Traffic { get; } = new();

    public IKvCache NewCache(int capacity)
    {
        long id = Interlocked.Increment(ref _nextSequenceId);
        return sequenceShards == 1
            ? new RemoteKvCache(id, capacity, _released.Enqueue, owner: this)
            : new RemoteKvCache(id, capacity, _released.Enqueue, SequencePositions.ForCapacity(capacity, sequenceShards, kvTokensPerShard), this);
    }

    /// <summary>Whether this model made <paramref name="cache"/> (so its shards hold that sequence's KV).</summary>
    internal bool Made(RemoteKvCache cache) => ReferenceEquals(cache.Owner, this);

    /// <summary>Sends a KV tier operation to every shard with the next step (<see cref="KvTiers.ShardKvBlockStorage"/>).</summary>
    internal void QueueKvOp(KvTiers.KvBlockOp op) => _kvOps.Enqueue(op);

    public bool SplitsVocabulary => _vocabParts.Count > 1;

    /// <summary>
    /// Whether several threads may step this model at once, each with its own sequences (the router's pipeline
    /// lanes): their steps then go through the stages in the order they entered, each stage running one call at
    /// a time, so stage s+1 runs one lane's step while stage s runs the next lane's. Not under vocabulary parallelism (a
    /// vocabulary part keeps only the latest step's logits) or sequence parallelism (its steps are not chained).
    /// </summary>
    public bool SupportsConcurrentSteps => !SplitsVocabulary && sequenceShards == 1;

    public Tensor Step(IReadOnlyList<StepInput> inputs)
    {
        if (SplitsVocabulary)
        {
            using var parts = StepParts(inputs);
            return parts.Gather();
        }
        var logits = RunStages(inputs).Select(o => o.ToTensor(CPU)).ToList();
        try
        {
            return (logits.Count == 1 ? logits[0].alias() : cat(logits, 0)).to(float32);
        }
        finally
        {
            foreach (var part in logits) part.Dispose();
        }
    }

    public VocabParallelLogits StepParts(IReadOnlyList<StepInput> inputs)
    {
        if (!SplitsVocabulary) throw new InvalidOperationException("this deployment's plan has no vocabulary parts");
        var outputs = RunStages(inputs); // per micro-batch: the last stage's normalized hidden states [R_m, D]
        TensorPayload hidden;
        if (outputs.Length == 1)
            hidden = outputs[0];
        else
        {
            using var scope = NewDisposeScope();
            hidden = TensorPayload.From(cat(outputs.Select(o => o.ToTensor(CPU)).ToList(), 0));
        }
        long headStepId = Interlocked.Increment(ref _nextStepId);
        Wait(Task.WhenAll(_vocabParts.Select(p => p.Shard.ComputeLogits(headStepId, hidden))));
        Traffic.CountVocabulary(hidden.NumBytes * _vocabParts.Count);
        return new VocabParallelLogits(_vocabParts.Select(p => (IVocabPartLogits)new RemoteVocabPartLogits(p.Shard, headStepId, p.Range)).ToList());
    }

    // Runs the stages over the step's micro-batches; returns each micro-batch's last-stage output.
    TensorPayload[] RunStages(IReadOnlyList<StepInput> inputs)
    {
        StepInput.CheckAll(inputs);
        var caches = inputs.Select(i => i.Cache as RemoteKvCache
            ?? throw new ArgumentException("every input of a sharded step needs a cache this model made")).ToList();
        if (sequenceShards > 1)
        {
            var (spReleased, spKvOps) = TakeQueued();
            return [RunSequenceParallelStages(inputs, caches, spReleased, spKvOps)];
        }
        long started = Stopwatch.GetTimestamp();
        Task<TensorPayload>[] chains;
        int numMicroBatches;
        long[] released;
        // NOTE: under the lock, a step takes the queued operations and sends its calls behind those of the steps
        // that entered before it, so every shard sees operations and steps in one order whichever thread stepped.
        lock (_entry) (chains, numMicroBatches, released) = EnterPipeline(inputs, caches);
        TensorPayload[] outputs;
        try
        {
            outputs = Wait(Task.WhenAll(chains));
        }
        catch
        {
            // The stages after the failure never heard of these sequences' end: the next step tells them (a shard
            // that did hear forgets a sequence once; hearing again changes nothing).
            foreach (long id in released) _released.Enqueue(id);
            throw;
        }
        for (int i = 0; i < caches.Count; i++) caches[i].Advance(inputs[i].TokenIds.Count);
        int numTokens = inputs.Sum(i => i.TokenIds.Count);
        Traffic.CountStep(numTokens);
        MicroBatches.Record(numMicroBatches, inputs.Count, numTokens, Stopwatch.GetElapsedTime(started).TotalSeconds);
        return outputs;
    }

    // The tier's operations and the released sequences since the last step (operations first: a finished
    // sequence's blocks are saved before its cache is released).
    (long[] Released, KvTiers.KvBlockOp[]? KvOps) TakeQueued()
    {
        var kvOps = new List<KvTiers.KvBlockOp>();
        while (_kvOps.TryDequeue(out var op)) kvOps.Add(op);
        var released = new List<long>();
        while (_released.TryDequeue(out long id)) released.Add(id);
        return (released.ToArray(), kvOps.Count == 0 ? null : kvOps.ToArray());
    }

    // Cuts the step into micro-batches and chains their calls stage by stage: each call waits for its own input
    // and for the call sent to its stage before it (this step's previous micro-batch, or another step's).
    (Task<TensorPayload>[] Chains, int NumMicroBatches, long[] Released) EnterPipeline(IReadOnlyList<StepInput> inputs, List<RemoteKvCache> caches)
    {
        var (released, kvOpsHere) = TakeQueued();
        var microBatches = Split(inputs.Count, MicroBatches.Choose(inputs.Count));
        var chains = new Task<TensorPayload>[microBatches.Count];
        var requests = new Func<TensorPayload, ShardStepRequest>[microBatches.Count];
        for (int m = 0; m < microBatches.Count; m++)
        {
            var (start, count) = microBatches[m];
            var part = inputs.Skip(start).Take(count).ToList();
            var layout = StepLayout.Of(part);
            var segments = part.Select((input, i) => new ShardSegment(caches[start + i].SequenceId, input.TokenIds.Count, caches[start + i].Length, caches[start + i].Capacity)).ToArray();
            long stepId = Interlocked.Increment(ref _nextStepId);
            long[] releasedHere = m == 0 ? released : [];
            var opsHere = m == 0 ? kvOpsHere : null;
            requests[m] = input => new ShardStepRequest(stepId, input, layout.Positions, layout.LogitRows, segments, releasedHere, KvOps: opsHere);
            using var ids = tensor(layout.TokenIds, int64);
            var idsPayload = TensorPayload.From(ids);
            chains[m] = SplitsVocabulary ? EmbedAsync(idsPayload) : Task.FromResult(idsPayload);
        }
        for (int stage = 0; stage < stages.Count; stage++)
        {
            // A lone rank's grain runs its calls one at a time in the order they arrive, so the next call may follow
            // as soon as this one is sent and wait there, never leaving the stage idle for a round trip. Several
            // ranks must meet in their all-reduces step by step: there the next call waits for this one to finish.
            bool queues = stages[stage].Count == 1;
            for (int m = 0; m < chains.Length; m++)
            {
                var sent = new TaskCompletionSource(); // inline continuations: the next call goes out at once
                chains[m] = ForwardAfter(stage, chains[m], _stageTails[stage], requests[m], sent);
                // The tail only orders the next call: it need not keep this one's output (the logits, at the last stage).
                _stageTails[stage] = queues ? sent.Task
                    : chains[m].ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        return (chains, microBatches.Count, released);
    }

    TensorPayload RunSequenceParallelStages(IReadOnlyList<StepInput> inputs, IReadOnlyList<RemoteKvCache> caches, long[] released, KvTiers.KvBlockOp[]? kvOps)
    {
        long started = Stopwatch.GetTimestamp();
        var layout = StepLayout.Of(inputs);
        var split = SequenceParallelLayout.Of(inputs, inputs.Select((input, i) => caches[i].Positions!.Assign(input.TokenIds.Count)).ToList(), layout);
        var wire = SequenceParallelWire.From(split.Assigned);
        long stepId = Interlocked.Increment(ref _nextStepId);
        using var scope = NewDisposeScope();
        var current = tensor(layout.TokenIds, int64);
        if (SplitsVocabulary)
        {
            using var idsPayload = current;
            current = Wait(EmbedAsync(TensorPayload.From(idsPayload))).ToTensor(CPU);
        }
        for (int stage = 0; stage < stages.Count; stage++)
        {
            bool last = stage == stages.Count - 1;
            var input = current;
            var calls = stages[stage].Select((shard, q) =>
            {
                var rows = input.index_select(0, tensor(split.Rows(q), int64));
                var segments = inputs.Select((_, i) => new ShardSegment(caches[i].SequenceId, split.Assigned[i][q].Length,
                    caches[i].Positions!.Of(q).Count, caches[i].Positions!.CapacityPerShard)).ToArray();
                var request = new ShardStepRequest(stepId, TensorPayload.From(rows), split.Positions(q), last ? split.LogitRows(q) : [], segments, released, wire, kvOps);
                return shard.Forward(request);
            }).ToList();
            long callStarted = Stopwatch.GetTimestamp();
            var results = Wait(Task.WhenAll(calls));
            var outputs = results.Select((r, q) => r.Output?.ToTensor(CPU) ?? throw new InvalidOperationException($"sequence shard {q} of stage {stage} returned no output")).ToList();
            Traffic.CountCall(Stopwatch.GetElapsedTime(callStarted).TotalMilliseconds, results.Max(r => r.ForwardMs),
                last ? 0 : outputs.Sum(o => o.NumberOfElements * o.ElementSize));
            current = last ? split.LogitsInStepOrder(outputs) : split.HiddenInStepOrder(outputs);
        }
        for (int i = 0; i < caches.Count; i++) caches[i].Positions!.Append(split.Assigned[i]);
        int numTokens = inputs.Sum(i => i.TokenIds.Count);
        Traffic.CountStep(numTokens);
        MicroBatches.Record(1, inputs.Count, numTokens, Stopwatch.GetElapsedTime(started).TotalSeconds);
        return TensorPayload.From(current);
    }

    // Every vocabulary part embeds the ids in its range; exactly one part's row is non-zero for each id, so the
    // sum (in part order) is the whole table's embedding, bit for bit.
    async Task<TensorPayload> EmbedAsync(TensorPayload ids)
    {
        var partials = await Task.WhenAll(_vocabParts.Select(p => p.Shard.EmbedPart(ids))).ConfigureAwait(false);
        Traffic.CountVocabulary(partials.Sum(p => p.NumBytes));
        using var scope = NewDisposeScope();
        var sum = partials[0].ToTensor(CPU);
        foreach (var partial in partials.Skip(1)) sum = sum.add(partial.ToTensor(CPU), Scalars.One); // a held alpha (see Scalars)
        return TensorPayload.From(sum);
    }

    /// <summary>Waits for shard calls on the serving thread; an unreachable shard becomes the engine's retryable error.</summary>
    static void Wait(Task calls)
    {
        try
        {
            calls.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException or ShardUnavailableException)
        {
            throw new ModelUnavailableException($"a shard is unreachable ({e.Message})", e);
        }
    }

    /// <inheritdoc cref="Wait(Task)"/>
    internal static T Wait<T>(Task<T> calls)
    {
        Wait((Task)calls);
        return calls.Result;
    }

    // Sends the call once its input is ready and the stage's previous call allows (see EnterPipeline), then says
    // so through sent (also when it never sends: the input failed), and returns the stage's output.
    async Task<TensorPayload> ForwardAfter(int stage, Task<TensorPayload> input, Task previousAtStage, Func<TensorPayload, ShardStepRequest> request, TaskCompletionSource sent)
    {
        Task<ShardStepResult[]> calls;
        long started;
        try
        {
            try
            {
                await previousAtStage.ConfigureAwait(false);
            }
            catch
            {
                // The earlier call's failure is reported by its own chain.
            }
            var payload = await input.ConfigureAwait(false);
            started = Stopwatch.GetTimestamp();
            calls = Task.WhenAll(stages[stage].Select(rank => rank.Forward(request(payload))));
        }
        finally
        {
            sent.TrySetResult();
        }
        var results = await calls.ConfigureAwait(false);
        double callMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var output = results[0].Output ?? throw new InvalidOperationException($"rank 0 of stage {stage} returned no output");
        Traffic.CountCall(callMs, results.Max(r => r.ForwardMs), stage < stages.Count - 1 ? output.NumBytes : 0);
        return output;
    }

    // Contiguous (start, count) ranges of as equal size as possible.
    static List<(int Start, int Count)> Split(int numInputs, int parts)
    {
        var ranges = new List<(int, int)>(parts);
        int start = 0;
        for (int p = 0; p < parts; p++)
        {
            int count = numInputs / parts + (p < numInputs % parts ? 1 : 0);
            ranges.Add((start, count));
            start += count;
        }
        return ranges;
    }

    /// <summary>Completes with the reason when a shard turns out to have lost its weights (<see cref="ShardLeases.Lost"/>); cancelled when disposed first.</summary>
    public Task<string> ShardsLost => leases?.Lost ?? new TaskCompletionSource<string>().Task;

    /// <summary>Stops renewing the shards' leases and unloads them: the deployment is over (or placed again).</summary>
    public void Dispose() => leases?.Dispose();
}
