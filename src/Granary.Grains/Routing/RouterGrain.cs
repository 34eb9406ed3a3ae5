using System.Runtime.CompilerServices;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
using Granary.Engine.Speculation;
using Granary.Grains.Deployments;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace Granary.Grains.Routing;

/// <summary>
/// Thin grain over a <see cref="ServingLoop"/>: loads the deployment's model when activated, hands requests
/// to the loop and relays their chunks. Reentrant, so many requests stream through it at once; all
/// scheduling happens on the loop's own thread.
/// </summary>
[Reentrant]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class RouterGrain(DeploymentCatalog catalog, ILogger<RouterGrain> logger) : Grain, IRouterGrain
{
    LoadedModel? _model;
    DraftModel? _draft;
    InferenceEngine? _engine;
    ServingLoop? _loop;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string name = this.GetPrimaryKeyString();
        var deployment = catalog.Find(name) ?? throw new InvalidOperationException($"no deployment named \"{name}\" is configured");
        var options = new ModelLoadOptions(deployment.DType is { } dtype ? RunDType.Parse(dtype, "dtype") : null, deployment.Device);
        var started = DateTime.UtcNow;
        // Loading reads hundreds of MB: keep it off the grain scheduler's threads.
        _model = await Task.Run(() => ModelLoader.Load(deployment.ModelDirectory, options), cancellationToken);
        if (deployment.DraftDirectory is { } draftDirectory)
            _draft = await Task.Run(() => DraftLoader.Load(draftDirectory, options, deployment.DraftVocabTokens), cancellationToken);
        TorchRuntime.FitThreadsToModel(_model.Model);
        _engine = new InferenceEngine(_model.Model, _model.Tokenizer, deployment.Scheduler, _draft, deployment.Speculation);
        _loop = new ServingLoop(_engine, $"granary-router-{name}");
        logger.LogInformation("Deployment {Name}: loaded {Directory} on {Device} in {Seconds:F1} s{Draft}", name,
            deployment.ModelDirectory, deployment.Device, (DateTime.UtcNow - started).TotalSeconds,
            _draft is null ? "" : $"; speculating with draft {deployment.DraftDirectory} (k <= {deployment.Speculation.NumSpeculativeTokens})");
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _loop?.Dispose();
        _draft?.Dispose();
        _model?.Dispose();
        return Task.CompletedTask;
    }

    public Task<DeploymentStatus> GetStatus()
    {
        var load = Loop.Load;
        return Task.FromResult(new DeploymentStatus
        {
            Model = this.GetPrimaryKeyString(),
            ContextLength = _model!.Config.MaxPositionEmbeddings,
            VocabSize = _model.Config.VocabSize,
            NumRunning = load.NumRunning,
            NumWaiting = load.NumWaiting,
            KvTokensReserved = load.KvTokensReserved,
            KvTokenBudget = Loop.KvTokenBudget,
            Host = RuntimeIdentity,
            IsSpeculative = _engine!.IsSpeculative,
            SpecDecodeNumDraftTokens = _engine.SpeculationStats.NumDraftTokens,
            SpecDecodeNumAcceptedTokens = _engine.SpeculationStats.NumAcceptedTokens,
            SpecDecodeAcceptanceRate = _engine.SpeculationStats.AcceptanceRate,
        });
    }

    public async IAsyncEnumerable<CompletionChunk> Generate(CompletionRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (stream, refusal) = await Submit(request);
        if (refusal is not null)
        {
            yield return refusal;
            yield break;
        }
        using (stream)
            await foreach (var chunk in stream!.ReadAllAsync(cancellationToken))
                yield return chunk;
    }

    async Task<(ServingStream?, CompletionChunk?)> Submit(CompletionRequest request)
    {
        var generation = new GenerationRequest(request.PromptTokenIds, request.Sampling) { TopLogprobs = request.TopLogprobs };
        try
        {
            return (await Loop.SubmitAsync(generation), null);
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
    }

    /// <summary>The deployment's speculation counters (zero without a draft); metrics read them in-process.</summary>
    public SpeculationStats? SpeculationStats => _engine?.SpeculationStats;

    ServingLoop Loop => _loop ?? throw new InvalidOperationException("the router is not activated");
}
