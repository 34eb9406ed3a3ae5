using Granary.Grains.KvTiers;
using Granary.Model.KvCache;
using Granary.Model.Loading;
using Granary.Model.Modeling;
using Granary.Model.Runtime;
using Granary.Model.Sampling;
using Granary.Model.Sharding;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Grains.Sharding;

/// <summary>
/// Holds one shard: its slices of the checkpoint (read straight from the safetensors files) and the KV
/// caches of its layers and heads, per sequence. Forwards run one at a time; a tensor-parallel rank's on a
/// thread of its own, so the grain stays reentrant for its peers' partial sums while a forward waits in an
/// all-reduce. A shard claims its device slot from its silo's <see cref="ISiloDevicesGrain"/> when it loads and
/// releases it when deactivated; it unloads itself when its router stops renewing its lease.
/// </summary>
[Reentrant]
[SiloPinnedPlacement]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class ShardGrain(LocalShardGroups localGroups, ILogger<ShardGrain> logger) : Grain, IShardGrain, IVocabPartGrain
{
    static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(60);

    readonly SemaphoreSlim _forwardGate = new(1, 1);
    ShardWorker? _worker;
    readonly Dictionary<long, SequenceKvCache> _caches = [];
    ShardAssignment? _assignment;
    CausalLm? _shard;
    GrainTensorParallelGroup? _remoteGroup;   // tensor-parallel peers on other silos, or the stage's sequence-parallel shards
    readonly Dictionary<long, List<long>> _heldPositions = []; // sequence parallel: the positions this shard holds, per sequence
    Task? _loading;
    bool _unloaded;
    bool _holdsSlot;          // claimed from this silo's SiloDevicesGrain; released on deactivation
    DateTime _leaseUntil;
    (long StepId, LocalVocabPartLogits Logits)? _partLogits; // the latest step's logits of this shard's vocabulary part
    ShardKvBlocks? _kvBlocks; // this shard's slice of the KV tier, made on the first operation

    public Task Load(ShardAssignment assignment)
    {
        if (_assignment is not null && _assignment != assignment && !SameShard(_assignment, assignment))
            throw new InvalidOperationException($"shard {this.GetPrimaryKeyString()} already holds another assignment");
        _assignment ??= assignment;
        // Peer references are made here, on the grain's turn: activation services are off limits on the loading thread.
        var peers = assignment.PeerKeys.Select(k => GrainFactory.GetGrain<IShardGrain>(k)).ToArray();
        var sequencePeers = (assignment.SequencePeerKeys ?? []).Select(k => GrainFactory.GetGrain<IShardGrain>(k)).ToArray();
        return _loading ??= LoadAsync(assignment, peers, sequencePeers);
    }

    async Task LoadAsync(ShardAssignment assignment, IShardGrain[] peers, IShardGrain[] sequencePeers)
    {
        string key = this.GetPrimaryKeyString();
        var devices = SiloDevices();
        if (!await devices.TryClaim(key))
            throw new InvalidOperationException($"shard {key}: silo {ShardKey.SiloOf(key)} has no free device slot (held by {string.Join(", ", await devices.GetHolders())})");
        _holdsSlot = true;
        if (assignment.Lease > TimeSpan.Zero)
        {
            _leaseUntil = DateTime.UtcNow + assignment.Lease;
            var check = assignment.Lease / 4;
            this.RegisterGrainTimer(CheckLease, new GrainTimerCreationOptions(check, check) { Interleave = true });
        }
        // Loading reads hundreds of MB: keep it off the grain scheduler's threads.
        await Task.Run(() => LoadShard(assignment, peers, sequencePeers));
    }

    ISiloDevicesGrain SiloDevices() => GrainFactory.GetGrain<ISiloDevicesGrain>(ShardKey.ForSilo(ShardKey.SiloOf(this.GetPrimaryKeyString())));

    public Task RenewLease(TimeSpan lease)
    {
        if (_loading is null || _unloaded) throw new ShardUnavailableException($"shard {this.GetPrimaryKeyString()} holds no weights (it was unloaded, its lease lapsed, or its silo restarted)");
        _leaseUntil = DateTime.UtcNow + lease;
        return Task.CompletedTask;
    }

    // Nobody renewed the lease (the router's silo died): free the weights, caches and slot rather than hold them forever.
    Task CheckLease(CancellationToken cancellationToken)
    {
        if (_unloaded || DateTime.UtcNow <= _leaseUntil) return Task.CompletedTask;
        logger.LogWarning("Shard {Key}: lease lapsed ({Lease} s without its router renewing it); unloading", this.GetPrimaryKeyString(), _assignment!.Lease.TotalSeconds);
        return Unload();
    }

    static bool SameShard(ShardAssignment a, ShardAssignment b) =>
        (a.Deployment, a.Generation, a.Stage, a.Rank, a.VocabPart, a.SpRank) == (b.Deployment, b.Generation, b.Stage, b.Rank, b.VocabPart, b.SpRank);

    void LoadShard(ShardAssignment a, IShardGrain[] peers, IShardGrain[] sequencePeers)
    {
        var vocab = a.VocabPart < 0 ? null
            : VocabRange.Split(Model.Configuration.ModelConfigJson.Load(a.ModelDirectory).VocabSize, a.NumVocabParts)[a.VocabPart];
        var spec = new ShardSpec(a.Stage, a.NumStages, a.LayerStart, a.LayerEnd, a.Rank, a.NumRanks, vocab, a.NumVocabParts, a.SpRank, a.NumSequenceShards);
        var options = new ModelLoadOptions(a.DType is { } dtype ? RunDType.Parse(dtype, "dtype") : null, a.Device);
        ITensorParallelGroup group;
        if (a.NumSequenceShards > 1)
        {
            group = SingleRankGroup.Instance;
            _remoteGroup = new GrainTensorParallelGroup(a.SpRank, sequencePeers, ModelLoader.ParseDevice(a.Device), PeerTimeout);
        }
        else if (a.NumRanks == 1)
            group = SingleRankGroup.Instance;
        else if (a.PeersShareSilo)
            group = localGroups.Rank(a.Deployment, a.Generation, a.Stage, a.Rank, a.NumRanks);
        else
            group = _remoteGroup = new GrainTensorParallelGroup(a.Rank, peers, ModelLoader.ParseDevice(a.Device), PeerTimeout);
        var started = DateTime.UtcNow;
        string key = this.GetPrimaryKeyString();
        _shard = ModelLoader.LoadShard(a.ModelDirectory, options, spec, group);
        if (a.NumSequenceShards > 1) _shard.BatchesDecodeRows = false; // sequence-parallel attention has its own exchange
        TorchRuntime.FitThreadsToModel(_shard);
        logger.LogInformation("Shard {Key}: loaded {Spec} ({Megabytes:F1} MB) in {Seconds:F1} s", key, spec,
            _shard.NumWeightBytes / 1e6, (DateTime.UtcNow - started).TotalSeconds);
    }

    public async Task<ShardStepResult> Forward(ShardStepRequest request)
    {
        if (_loading is null || _unloaded) throw new ShardUnavailableException($"shard {this.GetPrimaryKeyString()} holds no weights (it was unloaded, or its silo restarted)");
        await _loading;
        string key = this.GetPrimaryKeyString();
        // A lone rank never waits on a peer: its forward is plain compute and runs on this turn, sparing two
        // thread hand-offs per step. Tensor-parallel ranks block in all-reduces, so they run on their worker
        // while the grain stays free to take their peers' partial sums.
        if (_assignment!.NumRanks == 1 && _assignment.NumSequenceShards == 1)
        {
            if (request.KvOps is { Length: > 0 } ops) await ApplyKvOps(ops, key);
            return RunForward(request, key);
        }
        await _forwardGate.WaitAsync();
        try
        {
            if (request.KvOps is { Length: > 0 } ops) await ApplyKvOps(ops, key);
            _worker ??= new ShardWorker($"granary-shard-{_assignment.Stage}-{_assignment.Rank}-{_assignment.SpRank}");
            return await _worker.Run(() => RunForward(request, key));
        }
        finally
        {
            _forwardGate.Release();
        }
    }

    ShardStepResult RunForward(ShardStepRequest request, string key)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var shard = _shard!;
        foreach (long released in request.ReleasedSequences)
        {
            if (_caches.Remove(released, out var cache)) cache.Dispose();
            _heldPositions.Remove(released);
        }
        var segments = request.Segments.Select(s => new BatchSegment(CacheFor(shard, s, key), s.NumTokens)).ToList();
        var sequenceParallel = request.SequenceParallel is { } wire ? SequenceParallelStepOf(request.Segments, wire) : null;
        _remoteGroup?.BeginStep(request.StepId);
        using var scope = NewDisposeScope();
        var input = request.Input.ToTensor(shard.Device);
        var output = shard.ForwardShard(input, new StepLayout([], request.Positions, request.LogitRows), segments, sequenceParallel: sequenceParallel);
        if (sequenceParallel is not null)
            for (int i = 0; i < request.Segments.Length; i++)
                _heldPositions[request.Segments[i].SequenceId].AddRange(sequenceParallel.Segments[i].QueryPositionsByRank[_assignment!.SpRank]);
        var a = _assignment!;
        var payload = a.Rank == 0 ? TensorPayload.From(output) : null;
        Granary.Engine.Serving.StepMetrics.RecordShardStep(started, a.Deployment, a.Stage, a.Rank);
        return new ShardStepResult(payload, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    // The KV tier's operations since the last step, on this shard's slice of each block (before the releases
    // and the compute of the step they came with).
    Task ApplyKvOps(KvBlockOp[] ops, string key)
    {
        var shard = _shard!;
        _kvBlocks ??= new ShardKvBlocks(key, GrainFactory.GetGrain<IKvTierGrain>(ShardKey.ForKvTier(ShardKey.SiloOf(key))), shard.Device);
        return _kvBlocks.Apply(ops, (sequenceId, capacity) =>
        {
            if (!_caches.TryGetValue(sequenceId, out var cache)) _caches[sequenceId] = cache = shard.NewCache(capacity);
            return cache;
        });
    }

    // This shard's view of a sequence-parallel step: every shard's new positions, and the keys it holds (those
    // it kept, rolled back like its caches, then its new ones).
    SequenceParallelStep SequenceParallelStepOf(ShardSegment[] segments, SequenceParallelWire wire)
    {
        var assigned = wire.ToAssigned();
        int self = _assignment!.SpRank;
        var spSegments = new List<SequenceParallelSegment>(segments.Length);
        for (int i = 0; i < segments.Length; i++)
        {
            if (!_heldPositions.TryGetValue(segments[i].SequenceId, out var held)) _heldPositions[segments[i].SequenceId] = held = [];
            if (held.Count > segments[i].StartPosition) held.RemoveRange(segments[i].StartPosition, held.Count - segments[i].StartPosition);
            spSegments.Add(new SequenceParallelSegment(assigned[i], [.. held, .. assigned[i][self]]));
        }
        return new SequenceParallelStep(_remoteGroup!, spSegments);
    }

    // The sequence's cache on this shard, made on first sight and rolled back to where the router says it ends.
    SequenceKvCache CacheFor(CausalLm shard, ShardSegment segment, string key)
    {
        if (!_caches.TryGetValue(segment.SequenceId, out var cache))
            _caches[segment.SequenceId] = cache = shard.NewCache(segment.Capacity);
        if (cache.Length > segment.StartPosition) cache.Truncate(segment.StartPosition);
        if (cache.Length != segment.StartPosition)
            throw new InvalidOperationException($"sequence {segment.SequenceId}: the router expects {segment.StartPosition} cached positions but shard {key} holds {cache.Length}");
        return cache;
    }

    public async Task<TensorPayload> EmbedPart(TensorPayload tokenIds)
    {
        var shard = await LoadedVocabPart();
        using var scope = NewDisposeScope();
        return TensorPayload.From(shard.EmbedPart(tokenIds.ToTensor(shard.Device)));
    }

    public async Task ComputeLogits(long headStepId, TensorPayload hidden)
    {
        var shard = await LoadedVocabPart();
        Tensor logits;
        using (var input = hidden.ToTensor(shard.Device)) logits = shard.PartLogits(input);
        _partLogits?.Logits.Dispose();
        _partLogits = (headStepId, new LocalVocabPartLogits(logits, shard.Network.Shard.Vocab!));
    }

    public Task<PartSummaryWire[]> SummarizeLogits(long headStepId, PartQueryWire[] queries) =>
        Task.FromResult(PartLogits(headStepId).Summarize(queries.Select(q => q.ToQuery()).ToList()).Select(PartSummaryWire.From).ToArray());

    public Task<int[]> WalkLogits(long headStepId, PartWalkWire[] walks) =>
        Task.FromResult(PartLogits(headStepId).Walk(walks.Select(w => w.ToWalk()).ToList()).ToArray());

    public Task<double[]> LogitsAt(long headStepId, int[] rows, int[] tokenIds) =>
        Task.FromResult(PartLogits(headStepId).LogitsAt(rows.Zip(tokenIds).ToList()).ToArray());

    public Task<TensorPayload> ReadLogits(long headStepId)
    {
        using var logits = PartLogits(headStepId).Read();
        return Task.FromResult(TensorPayload.From(logits));
    }

    async Task<CausalLm> LoadedVocabPart()
    {
        if (_loading is null || _unloaded) throw new ShardUnavailableException($"shard {this.GetPrimaryKeyString()} holds no weights (it was unloaded, or its silo restarted)");
        await _loading;
        if (_shard!.Network.Shard.Vocab is null) throw new InvalidOperationException($"shard {this.GetPrimaryKeyString()} holds no vocabulary part");
        return _shard;
    }

    LocalVocabPartLogits PartLogits(long headStepId) =>
        _partLogits is { } held && held.StepId == headStepId ? held.Logits
        : throw new InvalidOperationException($"shard {this.GetPrimaryKeyString()} holds no logits of step {headStepId} (latest: {_partLogits?.StepId.ToString() ?? "none"})");

    public Task AcceptPartial(long stepId, int callIndex, int fromRank, TensorPayload partial)
    {
        (_remoteGroup ?? throw new InvalidOperationException($"shard {this.GetPrimaryKeyString()} has no remote peers")).Accept(stepId, callIndex, fromRank, partial);
        return Task.CompletedTask;
    }

    public Task<ShardReport> Describe()
    {
        var a = _assignment ?? throw new InvalidOperationException($"shard {this.GetPrimaryKeyString()} was never loaded");
        var vocab = _shard?.Network.Shard.Vocab;
        return Task.FromResult(new ShardReport(this.GetPrimaryKeyString(), ShardKey.SiloOf(this.GetPrimaryKeyString()).ToString(),
            a.Stage, a.Rank, a.LayerStart, a.LayerEnd, _shard?.NumWeightBytes ?? 0, _caches.Count, _remoteGroup?.NumBytesSent ?? 0,
            _shard?.NumKvBytesPerPosition ?? 0, vocab?.Start ?? 0, vocab?.Count ?? 0));
    }

    public Task Unload()
    {
        _unloaded = true;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        var kvBlocks = _kvBlocks;
        FreeTensors();
        if (kvBlocks is not null)
        {
            try
            {
                await kvBlocks.ReleaseAsync();
            }
            catch (Exception e)
            {
                logger.LogDebug("Shard {Key}: the silo's KV tier did not forget its slice ({Message})", this.GetPrimaryKeyString(), e.Message);
            }
        }
        if (!_holdsSlot) return;
        try
        {
            await SiloDevices().Release(this.GetPrimaryKeyString());
        }
        catch (Exception e)
        {
            // The silo is going down with its slot bookkeeping.
            logger.LogDebug("Shard {Key}: releasing its device slot failed: {Message}", this.GetPrimaryKeyString(), e.Message);
        }
    }

    void FreeTensors()
    {
        _kvBlocks?.Dispose();
        foreach (var cache in _caches.Values) cache.Dispose();
        _caches.Clear();
        _heldPositions.Clear();
        _partLogits?.Logits.Dispose();
        _worker?.Dispose();
        _shard?.Dispose();
    }
}
