using Granary.Abstractions.Sharding;
using Granary.Engine.Scheduling;
using Granary.Engine.Speculation;
using Granary.Grains.Deployments;
using Granary.Grains.Tests.Sharding;
using Granary.Model.Loading;
using Granary.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Granary.Grains.Tests.Drafting;

/// <summary>
/// Two in-process silos with one device slot each, and deployments whose draft runs on a draft grain:
/// the whole model in the router (its silo's slot taken) with a copy of the target as the draft, which gets
/// the other silo's slot; and a pp=2 plan (both slots taken) with an unrelated draft, which must share a slot
/// with a shard and sees mostly rejections. k is fixed so seeded runs are reproducible.
/// </summary>
public sealed class DraftGrainClusterFixture : IAsyncLifetime
{
    /// <summary>Plan none, DraftPlacement grain, draft = the target's own checkpoint.</summary>
    public const string OwnSlotName = "tiny-draft-own-slot";

    /// <summary>Plan pp=2 (automatic placement: grain), draft = an unrelated 1-layer model.</summary>
    public const string CoLocatedName = "tiny-draft-co-located";

    public static readonly SpeculationOptions Speculation = new() { NumSpeculativeTokens = 3, IsAdaptive = false };

    readonly SynthesizedModelFolder _folder = new(ShardedClusterFixture.Shape);
    readonly SynthesizedModelFolder _unrelated = new(ShardedClusterFixture.Shape with { NumLayers = 1, Seed = 99 });
    InProcessTestCluster? _cluster;
    LoadedModel? _reference;

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("the cluster is not deployed");

    public IClusterClient Client => Cluster.Client;

    public LoadedModel Reference => _reference ?? throw new InvalidOperationException("the reference model is not loaded");

    /// <summary>The draft of <see cref="OwnSlotName"/> (the target's folder).</summary>
    public string CopyDraftDirectory => _folder.Path;

    public async Task InitializeAsync()
    {
        var scheduler = new SchedulerOptions { MaxNumRunningSequences = 8, MaxNumWaiting = 64 };
        DeploymentOptions[] deployments =
        [
            new()
            {
                Name = OwnSlotName, ModelDirectory = _folder.Path, Scheduler = scheduler,
                DraftDirectory = _folder.Path, DraftPlacement = DraftPlacementMode.Grain, Speculation = Speculation,
            },
            new()
            {
                Name = CoLocatedName, ModelDirectory = _folder.Path, Scheduler = scheduler, Plan = ParallelPlan.Parse("pp=2"),
                DraftDirectory = _unrelated.Path, Speculation = Speculation,
            },
        ];
        _cluster = await GranaryTestCluster.StartAsync(2, (_, services) => services.AddGranaryDeployments(deployments).AddGranaryShards(deviceSlots: 1));
        _reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
    }

    public async Task DisposeAsync()
    {
        await GranaryTestCluster.StopAsync(_cluster);
        _reference?.Dispose();
        _folder.Dispose();
        _unrelated.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DraftGrainClusterCollection : ICollectionFixture<DraftGrainClusterFixture>
{
    public const string Name = "draft grain cluster";
}
