using Granary.Abstractions.Sharding;
using Granary.Grains.Deployments;
using Granary.Grains.Sharding;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Granary.Model.Tokenization;
using Granary.Server.Benchmarks;

namespace Granary.Server.Cli;

/// <summary>
/// A model ready to step for a CLI verb, with its tokenizer: on one device, or under a plan as shard grains
/// on silos started in this process (one device slot each, clustered over loopback), so `generate --plan`
/// runs exactly what a cluster runs. Disposing it unloads the model and stops the silos.
/// </summary>
internal sealed class RunnableModel : IAsyncDisposable
{
    readonly IDisposable? _loaded;
    readonly LoopbackCluster? _cluster;

    RunnableModel(ICausalLm model, TextTokenizer tokenizer, IDisposable? loaded, LoopbackCluster? cluster)
    {
        Model = model;
        Tokenizer = tokenizer;
        _loaded = loaded;
        _cluster = cluster;
    }

    public ICausalLm Model { get; }

    public TextTokenizer Tokenizer { get; }

    public static async Task<RunnableModel> LoadAsync(string modelDir, ModelLoadOptions options, ParallelPlan plan, TextWriter stderr)
    {
        if (plan.IsSingle)
        {
            var loaded = LoadProgressBar.Load(modelDir, options, stderr);
            return new RunnableModel(loaded.Model, loaded.Tokenizer, loaded, null);
        }
        var config = ModelConfigJson.Load(modelDir);
        var tokenizer = ModelLoader.LoadTokenizerFor(modelDir, config);
        Granary.Model.Sharding.ShardSpec.ForPlan(config, plan); // a plan the model cannot take fails before any silo starts
        var cluster = await LoopbackCluster.StartAsync(plan.NumShards, CancellationToken.None);
        try
        {
            var deployment = new DeploymentOptions
            {
                Name = "generate", ModelDirectory = modelDir, Plan = plan, Device = options.Device,
                DType = options.DType is { } dtype ? RunDType.HfName(dtype) : null,
            };
            var (model, _) = await ShardedDeployment.LoadAsync(deployment, cluster.Grains, generation: 1, routerSilo: cluster.FirstSilo);
            return new RunnableModel(model, tokenizer, model, cluster);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _loaded?.Dispose();
        if (_cluster is not null) await _cluster.DisposeAsync();
    }
}
