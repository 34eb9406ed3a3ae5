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
        var builder = new InProcessTestClusterBuilder(initialSilosCount: 2);
        var speculative = deployment with
        {
            Name = SpeculativeModelName,
            DraftDirectory = _folder.Path,
            Speculation = new Engine.Speculation.SpeculationOptions { NumSpeculativeTokens = 3 },
        };
        builder.ConfigureSilo((_, silo) => silo.Services.AddGranaryWireTypes().AddGranaryDeployments([deployment, speculative]));
        builder.ConfigureClient(client => client.Services.AddGranaryWireTypes());
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        _reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
        _reference?.Dispose();
        _folder.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class RouterClusterCollection : ICollectionFixture<RouterClusterFixture>
{
    public const string Name = "router cluster";
}
