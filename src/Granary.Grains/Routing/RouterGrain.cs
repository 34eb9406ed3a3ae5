using System.Runtime.CompilerServices;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.KvReuse;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
using Granary.Engine.Speculation;
using Granary.Grains.Deployments;
using Granary.Grains.Drafting;
using Granary.Grains.KvTiers;
using Granary.Grains.Sharding;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Tokenization;
using Granary.Model.Runtime;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace Granary.Grains.Routing;

/// <summary>
/// Thin grain over its <see cref="ServingLanes"/> (a <see cref="ServingLoop"/>, or one per pipeline stage): loads
/// the deployment's model when activated (the whole model here, or its shards on shard grains per the plan),
/// hands requests to the lanes and relays their chunks.
/// Loading runs in the background, so activation never times out on a big model or on a cluster still
/// gathering the device slots a plan needs; status says "loading" meanwhile and requests wait for it.
/// A failed load deactivates the router, so the next call tries again. Reentrant, so many requests stream
/// through it at once; all scheduling happens on the lanes' own threads.
/// </summary>
[Reentrant]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class RouterGrain(DeploymentCatalog catalog, IClusterMembershipService membership, ILocalSiloDetails silo, ILogger<RouterGrain> logger)
    : Grain, IRouterGrain
{
    /// <summary>How long a status call waits for a load in progress before answering "loading".</summary>
    static readonly TimeSpan StatusWait = TimeSpan.FromSeconds(10);

    /// <summary>How often a router checks that the cluster still routes to it (see <see cref="StepDownIfDuplicateAsync"/>).</summary>
    static readonly TimeSpan DuplicateCheckPeriod = TimeSpan.FromSeconds(30);

    /// <summary>What requests still reaching a router that stepped down for a duplicate are told (retryable).</summary>
    const string ReplacedMessage = "this router was replaced by another activation of it; retry the request";

    ICausalLm? _model;
    DraftModel? _draft;          // a draft beside the engine (DraftPlacementMode.Local)
    GrainDrafter? _grainDrafter; // or one on a draft grain, per placement
    InferenceEngine? _engine;   // the first lane's (a deployment that speculates has only one)
    KvTierManager? _kvTiers;
    ServingLanes? _lanes;
    IReadOnlyList<ShardReport> _shards = [];
    Task _loaded = Task.CompletedTask;
    CancellationTokenSource _stopWatching = new();
    readonly Guid _activationToken = Guid.NewGuid();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string name = this.GetPrimaryKeyString();
        var deployment = catalog.Find(name) ?? throw new InvalidOperationException($"no deployment named \"{name}\" is configured");
        _loaded = LoadAsync(deployment);
        this.RegisterGrainTimer(StepDownIfDuplicateAsync, new GrainTimerCreationOptions(DuplicateCheckPeriod, DuplicateCheckPeriod) { Interleave = true });
        return Task.CompletedTask;
    }

    async Task LoadAsync(DeploymentOptions deployment)
    {
        var started = DateTime.UtcNow;
        // A fresh generation per placement: shard and draft keys are never reused, so no stale grain is ever called.
        int generation = Random.Shared.Next(1, int.MaxValue);
        try
        {
            TextTokenizer tokenizer;
            var options = new ModelLoadOptions(deployment.DType is { } dtype ? RunDType.Parse(dtype, "dtype") : null, deployment.Device);
            if (deployment.Plan.IsSingle)
            {
                // Loading reads hundreds of MB: keep it off the grain scheduler's threads.
                var loaded = await Task.Run(() => ModelLoader.Load(deployment.ModelDirectory, options));
                TorchRuntime.FitThreadsToModel(loaded.Model);
                (_model, tokenizer) = (loaded.Model, loaded.Tokenizer);
            }
            else
            {
                tokenizer = ModelLoader.LoadTokenizerFor(deployment.ModelDirectory, ModelConfigJson.Load(deployment.ModelDirectory));
                var (model, shards) = await ShardedDeployment.LoadAsync(deployment, GrainFactory, generation,
                    waiting => logger.LogInformation("Deployment {Name}: {Waiting}", deployment.Name, waiting), silo.SiloAddress);
                (_model, _shards) = (model, shards);
                _ = WatchShardLeasesAsync(deployment, model, shards);
            }
            IDrafter? drafter = null;
            if (deployment.DraftsOnGrain)
                drafter = _grainDrafter = await DraftDeployment.LoadAsync(deployment, GrainFactory, generation, _shards, silo.SiloAddress);
            else if (deployment.DraftDirectory is { } draftDirectory)
                drafter = _draft ??= await Task.Run(() => DraftLoader.Load(draftDirectory, options, deployment.DraftVocabTokens)); // outlives re-placements
            if (_shards.Count > 0 || _grainDrafter is not null) _ = WatchSilosAsync(deployment, _shards, _grainDrafter);
            var scheduler = deployment.KvTokensPerShard is { } perShard
                ? deployment.Scheduler with { MaxSequenceTokens = perShard * deployment.Plan.SequenceShards }
                : deployment.Scheduler;
            // On a sharded plan each shard keeps its own slice of every block (its silo's tier grain the lower tiers).
            _kvTiers = deployment.KvReuse is not { } kvReuse ? null
                : _model is GrainShardedCausalLm sharded
                    ? KvTierSetup.For(_model, kvReuse, TimeProvider.System, storage: await ShardKvTierCheck.StorageFor(sharded, kvReuse, _shards, GrainFactory))
                    : KvTierSetup.For(_model, kvReuse, TimeProvider.System, deployment.Cxl);
            var (numLanes, whyOneLane) = PipelineLanes.For(deployment, _model, scheduler);
            if (whyOneLane is not null && deployment.PipelineLanes is > 1)
                logger.LogWarning("Deployment {Name}: runs one serving lane, not {Lanes}: {Why}", deployment.Name, deployment.PipelineLanes, whyOneLane);
            if (_model is GrainShardedCausalLm pipelined) pipelined.MicroBatches.Fixed = PipelineLanes.MicroBatchesFor(numLanes);
            var target = _model;
            var engines = Enumerable.Range(0, numLanes)
                .Select(lane => new InferenceEngine(target, tokenizer, scheduler.ShareOf(lane, numLanes), drafter, deployment.Speculation, _kvTiers)).ToList();
            _engine = engines[0];
            _lanes = new ServingLanes(engines, $"granary-router-{deployment.Name}", new StepMetricLabels(deployment.Name, IsWholeModel: deployment.Plan.IsSingle));
            logger.LogInformation("Deployment {Name}: loaded {Directory} on {Device}, plan {Plan}{Lanes}, in {Seconds:F1} s{Draft}", deployment.Name,
                deployment.ModelDirectory, deployment.Device, deployment.Plan, numLanes > 1 ? $" in {numLanes} serving lanes" : "", (DateTime.UtcNow - started).TotalSeconds,
                drafter is null ? "" : $"; speculating with draft {deployment.DraftDirectory} ({DraftPlacementText}, k <= {deployment.Speculation.NumSpeculativeTokens})");
        }
        catch (Exception e)
        {
            logger.LogError("Deployment {Name} failed to load: {Message}", deployment.Name, e.Message);
            DeactivateOnIdle();
            throw;
        }
    }

    // When a silo holding a shard or the draft grain leaves, the shards and the draft are placed again on the
    // remaining slots and reload; requests in flight fail as retryable, requests arriving meanwhile wait for the new placement.
    async Task WatchSilosAsync(DeploymentOptions deployment, IReadOnlyList<ShardReport> shards, GrainDrafter? draft)
    {
        var silos = shards.Select(s => ShardKey.SiloOf(s.Key)).Concat(draft is null ? [] : [ShardKey.SiloOf(draft.Report.Key)]).Distinct().ToList();
        var model = _model;
        var stop = _stopWatching.Token;
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stop))
            {
                var lost = silos.Where(s => snapshot.GetSiloStatus(s) is SiloStatus.ShuttingDown or SiloStatus.Stopping or SiloStatus.Dead).ToList();
                if (lost.Count == 0) continue;
                if (!ReferenceEquals(_model, model)) return; // placed again already (a shard lost its weights)
                PlaceShardsAgain(deployment, shards, draft, $"silo {string.Join(", ", lost)} holding a shard or the draft left the cluster");
                return;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    // A shard that lost its weights while its silo stayed (its lease lapsed: renewals starved for a whole lease)
    // makes every step fail: place the deployment again, as for a lost silo.
    async Task WatchShardLeasesAsync(DeploymentOptions deployment, GrainShardedCausalLm model, IReadOnlyList<ShardReport> shards)
    {
        try
        {
            string reason = await model.ShardsLost;
            if (ReferenceEquals(_model, model)) PlaceShardsAgain(deployment, shards, _grainDrafter, reason);
        }
        catch (OperationCanceledException)
        {
            // The model ended first (placed again, or the router deactivated).
        }
    }

    void PlaceShardsAgain(DeploymentOptions deployment, IReadOnlyList<ShardReport> oldShards, GrainDrafter? oldDraft, string reason)
    {
        logger.LogWarning("Deployment {Name}: {Reason}; placing its shards again", deployment.Name, reason);
        var (oldLanes, oldModel, oldTiers) = (_lanes, _model, _kvTiers);
        (_lanes, _model, _shards, _kvTiers, _grainDrafter) = (null, null, [], null, null);
        _loaded = LoadUnlessDuplicateAsync(deployment);
        // The old lanes may be blocked in a step on the lost shard: stop them off the grain's turn, then unload the old
        // shards and draft. (The new placement may free and unload the surviving shards first, as it takes their
        // slots; a step still running then meets an emptied shard and fails as retryable, like the stopped lanes'.)
        var unloads = oldShards.Select(s => (Func<Task>)GrainFactory.GetGrain<IShardGrain>(s.Key).Unload)
            .Concat(oldDraft is null ? [] : [GrainFactory.GetGrain<IDraftGrain>(oldDraft.Report.Key).Unload]).ToList();
        _ = Task.Run(async () =>
        {
            oldLanes?.Stop($"{reason}; the deployment is being placed again, retry the request");
            oldTiers?.Dispose();
            oldModel?.Dispose();
            foreach (var unload in unloads) await QuietCalls.RunAsync(unload); // the lost silo's shards (or draft) are gone already
        });
    }

    // A placement supersedes the deployment's earlier ones (it takes their slots), so only the activation the
    // cluster routes to may place: a duplicate left behind by a lost directory entry steps down instead, and
    // requests that still reach it fail as retryable (their retry finds the other).
    async Task LoadUnlessDuplicateAsync(DeploymentOptions deployment)
    {
        if (await IsRoutedElsewhereAsync())
        {
            logger.LogWarning("Deployment {Name}: another activation of its router serves it now; this one steps down instead of placing it again", deployment.Name);
            DeactivateOnIdle();
            throw new ObjectDisposedException(nameof(RouterGrain), ReplacedMessage);
        }
        await LoadAsync(deployment);
    }

    // Routers live until their silo stops (AlwaysActive), so a duplicate that is never placed again would hold
    // its model (or its shards' slots) for good: every DuplicateCheckPeriod an idle-or-serving router checks, and a
    // duplicate ends its requests as retryable and deactivates.
    async Task StepDownIfDuplicateAsync(CancellationToken cancellationToken)
    {
        if (!_loaded.IsCompleted || !await IsRoutedElsewhereAsync()) return;
        logger.LogWarning("Deployment {Name}: another activation of its router serves it now; this one steps down", this.GetPrimaryKeyString());
        if (_lanes is { } lanes) await Task.Run(() => lanes.Stop(ReplacedMessage), cancellationToken);
        DeactivateOnIdle();
    }

    // Asks this grain through its reference: an answer from another activation means the cluster routes there.
    async Task<bool> IsRoutedElsewhereAsync()
    {
        try
        {
            return await GrainFactory.GetGrain<IRouterGrain>(this.GetPrimaryKeyString()).GetActivationToken() != _activationToken;
        }
        catch (Exception e)
        {
            logger.LogDebug("Router {Name}: could not ask which activation is routed to ({Message})", this.GetPrimaryKeyString(), e.Message);
            return false;
        }
    }

    public Task<Guid> GetActivationToken() => Task.FromResult(_activationToken);

    /// <summary>Where the deployment's shards are (empty when the router holds the whole model).</summary>
    public async Task<IReadOnlyList<ShardReport>> GetShards()
    {
        await _loaded;
        return _shards;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _stopWatching.Cancel();
        _lanes?.Dispose();
        _kvTiers?.Dispose();
        _draft?.Dispose();
        _model?.Dispose();
        return Task.CompletedTask;
    }

    public async Task<DeploymentStatus> GetStatus()
    {
        string name = this.GetPrimaryKeyString();
        await Task.WhenAny(_loaded, Task.Delay(StatusWait));
        if (!_loaded.IsCompleted) return new DeploymentStatus { Model = name, IsLoading = true, Host = RuntimeIdentity };
        await _loaded; // a failed load throws its error here
        var load = Lanes.Load;
        return new DeploymentStatus
        {
            Model = name,
            ContextLength = _model!.Config.MaxPositionEmbeddings,
            VocabSize = _model.Config.VocabSize,
            NumRunning = load.NumRunning,
            NumWaiting = load.NumWaiting,
            KvTokensReserved = load.KvTokensReserved,
            KvTokenBudget = Lanes.KvTokenBudget,
            NumServingLanes = Lanes.Count,
            Host = RuntimeIdentity,
            IsSpeculative = _engine!.IsSpeculative,
            SpecDecodeNumDraftTokens = _engine.SpeculationStats.NumDraftTokens,
            SpecDecodeNumAcceptedTokens = _engine.SpeculationStats.NumAcceptedTokens,
            SpecDecodeAcceptanceRate = _engine.SpeculationStats.AcceptanceRate,
            PrefixCacheHitTokens = _kvTiers?.Cache.NumHitTokens ?? 0,
            KvTierHits = _kvTiers is { } tiers ? KvTierNames.All.Select(tiers.Cache.NumHits).ToArray() : [],
            KvTierBlocks = _kvTiers is { } kv ? KvTierNames.All.Select(kv.Cache.NumBlocks).ToArray() : [],
            DraftPlacement = _engine.IsSpeculative ? DraftPlacementText : null,
            DraftHost = _grainDrafter?.Report.Silo ?? (_engine.IsSpeculative ? RuntimeIdentity : null),
        };
    }

    // "local" (beside the engine), "own-slot" or "co-located" (a draft grain with or without a device slot of its own).
    string DraftPlacementText => _grainDrafter is { } grain ? (grain.Report.HasOwnSlot ? "own-slot" : "co-located") : "local";

    public async IAsyncEnumerable<CompletionChunk> Generate(CompletionRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (stream, refusal) = await Submit(request, cancellationToken);
        if (refusal is not null)
        {
            yield return refusal;
            yield break;
        }
        using (stream)
            await foreach (var chunk in stream!.ReadAllAsync(cancellationToken))
                yield return chunk;
    }

    async Task<(ServingStream?, CompletionChunk?)> Submit(CompletionRequest request, CancellationToken cancellationToken)
    {
        var generation = new GenerationRequest(request.PromptTokenIds, request.Sampling)
        {
            TopLogprobs = request.TopLogprobs,
            Tenant = request.Tenant,
            Program = request.Program,
            AwaitingTool = request.AwaitingTool,
        };
        try
        {
            await _loaded.WaitAsync(cancellationToken);
            return (await Lanes.SubmitAsync(generation), null);
        }
        catch (GranaryUserError e)
        {
            return (null, CompletionChunk.Failed(ServingErrorKind.InvalidRequest, e.Message));
        }
        catch (QueueFullException e)
        {
            return (null, CompletionChunk.Failed(ServingErrorKind.QueueFull, e.Message));
        }
        catch (ObjectDisposedException e)
        {
            return (null, CompletionChunk.Failed(ServingErrorKind.Unavailable, e.Message));
        }
        catch (Exception e) when (!_loaded.IsCompletedSuccessfully && !cancellationToken.IsCancellationRequested)
        {
            return (null, CompletionChunk.Failed(ServingErrorKind.Unavailable, $"the deployment failed to load: {e.Message}; retry later"));
        }
    }

    /// <summary>The deployment's speculation counters (zero without a draft); metrics read them in-process.</summary>
    public SpeculationStats? SpeculationStats => _engine?.SpeculationStats;

    ServingLanes Lanes => _lanes ?? throw new InvalidOperationException("the router is not activated");
}
