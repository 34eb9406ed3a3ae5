using Granary.Engine.Scheduling;
using Granary.Grains.Deployments;
using Granary.Model.Loading;
using Granary.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Granary.Grains.Tests.Routing;

/// <summary>
/// One two-silo in-process cluster per test collection, serving a synthesized small model as deployment
/// <see cref="ModelName"/>. The test process loads its own copy of the model as the single-request reference.
/// </summary>
public sealed class RouterClusterFixture : IAsyncLifetime
{
    public const string ModelName = "tiny";

    /// <summary>The same model, decoding speculatively with a copy of itself as the draft.</summary>
    public const string SpeculativeModelName = "tiny-speculative";

    /// <summary>Long enough that an uncancelled request would still be running long after a cancelled one has left.</summary>
    public const int ContextLength = 1024;

    readonly SynthesizedModelFolder _folder = new(SynthesizedModelFolder.SmallOptions with { MaxPositionEmbeddings = ContextLength });
    InProcessTestCluster? _cluster;
    LoadedModel? _reference;

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("the cluster is not deployed");

    public LoadedModel Reference => _reference ?? throw new InvalidOperationException("the reference model is not loaded");

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var deployment = new DeploymentOptions
        {
            Name = ModelName,
            ModelDirectory = _folder.Path,
            Scheduler = new SchedulerOptions { MaxNumRunningSequences = 16, MaxNumWaiting = 64 },
        };
        var speculative = deployment with
        {
            Name = SpeculativeModelName,
            DraftDirectory = _folder.Path,
            Speculation = new Engine.Speculation.SpeculationOptions { NumSpeculativeTokens = 3 },
        };
        _cluster = await GranaryTestCluster.StartAsync(2, (_, services) => services.AddGranaryDeployments([deployment, speculative]));
        _reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
    }

    public async Task DisposeAsync()
    {
        await GranaryTestCluster.StopAsync(_cluster);
        _reference?.Dispose();
        _folder.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class RouterClusterCollection : ICollectionFixture<RouterClusterFixture>
{
    public const string Name = "router cluster";
}
