using System.Runtime.CompilerServices;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
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
    ServingLoop? _loop;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string name = this.GetPrimaryKeyString();
        var deployment = catalog.Find(name) ?? throw new InvalidOperationException($"no deployment named \"{name}\" is configured");
        var options = new ModelLoadOptions(deployment.DType is { } dtype ? RunDType.Parse(dtype, "dtype") : null, deployment.Device);
        var started = DateTime.UtcNow;
        // Loading reads hundreds of MB: keep it off the grain scheduler's threads.
        _model = await Task.Run(() => ModelLoader.Load(deployment.ModelDirectory, options), cancellationToken);
        TorchRuntime.FitThreadsToModel(_model.Model);
        var engine = new InferenceEngine(_model.Model, _model.Tokenizer, deployment.Scheduler);
        _loop = new ServingLoop(engine, $"granary-router-{name}");
        logger.LogInformation("Deployment {Name}: loaded {Directory} on {Device} in {Seconds:F1} s", name,
            deployment.ModelDirectory, deployment.Device, (DateTime.UtcNow - started).TotalSeconds);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _loop?.Dispose();
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

    ServingLoop Loop => _loop ?? throw new InvalidOperationException("the router is not activated");
}
