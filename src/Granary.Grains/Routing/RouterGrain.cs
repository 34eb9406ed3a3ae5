using System.Runtime.CompilerServices;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
using Granary.Grains.Deployments;
using Granary.Grains.Sharding;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Tokenization;
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
    ICausalLm? _model;
    ServingLoop? _loop;
    IReadOnlyList<ShardReport> _shards = [];

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string name = this.GetPrimaryKeyString();
        var deployment = catalog.Find(name) ?? throw new InvalidOperationException($"no deployment named \"{name}\" is configured");
        var started = DateTime.UtcNow;
        TextTokenizer tokenizer;
        if (deployment.Plan.IsSingle)
        {
            var options = new ModelLoadOptions(deployment.DType is { } dtype ? RunDType.Parse(dtype, "dtype") : null, deployment.Device);
            // Loading reads hundreds of MB: keep it off the grain scheduler's threads.
            var loaded = await Task.Run(() => ModelLoader.Load(deployment.ModelDirectory, options), cancellationToken);
            TorchRuntime.FitThreadsToModel(loaded.Model);
            (_model, tokenizer) = (loaded.Model, loaded.Tokenizer);
        }
        else
        {
            tokenizer = ModelLoader.LoadTokenizerFor(deployment.ModelDirectory, ModelConfigJson.Load(deployment.ModelDirectory));
            var (model, shards) = await ShardedDeployment.LoadAsync(deployment, GrainFactory, generation: 0);
            (_model, _shards) = (model, shards);
        }
        var engine = new InferenceEngine(_model, tokenizer, deployment.Scheduler);
        _loop = new ServingLoop(engine, $"granary-router-{name}");
        logger.LogInformation("Deployment {Name}: loaded {Directory} on {Device}, plan {Plan}, in {Seconds:F1} s", name,
            deployment.ModelDirectory, deployment.Device, deployment.Plan, (DateTime.UtcNow - started).TotalSeconds);
    }

    /// <summary>Where the deployment's shards are (empty when the router holds the whole model).</summary>
    public Task<IReadOnlyList<ShardReport>> GetShards() => Task.FromResult(_shards);

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
