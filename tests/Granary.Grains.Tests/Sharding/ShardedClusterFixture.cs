using Granary.Abstractions.Sharding;
using Granary.Engine.Scheduling;
using Granary.Grains.Deployments;
using Granary.Grains.Routing;
using Granary.Grains.Sharding;
using Granary.Model.Loading;
using Granary.Model.Synthesis;
using Granary.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.TestingHost;

namespace Granary.Grains.Tests.Sharding;

/// <summary>
/// Four in-process silos offering 1, 1, 2 and 2 device slots, and one deployment per plan under test, all
/// of one synthesized GQA model with 5 layers (not divisible by 2 or 3 stages). Two-slot silos take a
/// tp=2 stage whole (in-process all-reduce); tp=4 spreads over silos (all-reduce through grain messages).
/// </summary>
public sealed class ShardedClusterFixture : IAsyncLifetime
{
    public static readonly string[] Plans = ["pp=2", "pp=3", "tp=2", "tp=4", "pp=2,tp=2", "vp=2", "vp=4", "pp=2,tp=2,vp=2", "sp=2", "sp=4", "pp=2,sp=2"];

    public static readonly SynthesisOptions Shape = SynthesizedModelFolder.SmallOptions with { NumLayers = 5, NumHeads = 4, NumKvHeads = 2, MaxPositionEmbeddings = 256 };

    /// <summary>A second shape for the logits tests: tied LM head, one KV head (replicated over tp ranks), 4 layers.</summary>
    public static readonly SynthesisOptions TiedMqaShape = SynthesizedModelFolder.SmallOptions with { NumLayers = 4, NumHeads = 4, NumKvHeads = 1, TieWordEmbeddings = true, Seed = 7 };

    readonly SynthesizedModelFolder _folder = new(Shape);
    readonly SynthesizedModelFolder _tiedMqa = new(TiedMqaShape);
    // Another model with the same tokenizer, as a draft: unrelated weights, so most proposals are rejected.
    readonly SynthesizedModelFolder _draft = new(Shape with { NumLayers = 1, Seed = 99 });
    LoadedModel? _tiedMqaReference;
    InProcessTestCluster? _cluster;
    LoadedModel? _reference;

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("the cluster is not deployed");

    public IClusterClient Client => Cluster.Client;

    public LoadedModel Reference => _reference ?? throw new InvalidOperationException("the reference model is not loaded");

    public string ModelDirectory => _folder.Path;

    public string TiedMqaDirectory => _tiedMqa.Path;

    public LoadedModel TiedMqaReference => _tiedMqaReference ?? throw new InvalidOperationException("the reference model is not loaded");

    public static string DeploymentName(string plan) => "tiny-" + plan.Replace(',', '-').Replace("=", "");

    /// <summary>The pp=2 deployment decoding speculatively with a local draft.</summary>
    public const string SpeculativeDeploymentName = "tiny-pp2-spec";

    /// <summary>Positions of one sequence each shard of the budgeted deployments may hold.</summary>
    public const int KvBudget = 24;

    public static string BudgetedDeploymentName(string plan) => DeploymentName(plan) + "-budget";

    public DeploymentOptions Deployment(string plan) => new()
    {
        Name = DeploymentName(plan),
        ModelDirectory = _folder.Path,
        Plan = ParallelPlan.Parse(plan),
        Scheduler = new SchedulerOptions { MaxNumRunningSequences = 8, MaxNumWaiting = 64 },
    };

    public async Task InitializeAsync()
    {
        var deployments = Plans.Select(Deployment).ToList();
        deployments.Add(Deployment("pp=2") with
        {
            Name = SpeculativeDeploymentName,
            DraftDirectory = _draft.Path,
            Speculation = new Granary.Engine.Speculation.SpeculationOptions { NumSpeculativeTokens = 3, IsAdaptive = false },
        });
        // A per-shard KV budget of 24 positions: sp=2 serves 48, no plan only 24.
        deployments.Add(Deployment("sp=2") with { Name = BudgetedDeploymentName("sp=2"), KvTokensPerShard = KvBudget });
        deployments.Add(Deployment("none") with { Name = BudgetedDeploymentName("none"), KvTokensPerShard = KvBudget });
        _cluster = await GranaryTestCluster.StartAsync(4, (index, services) =>
        {
            services.AddGranaryDeployments(deployments).AddGranaryShards(deviceSlots: index < 2 ? 1 : 2);
        });
        _reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
        _tiedMqaReference = ModelLoader.Load(_tiedMqa.Path, new ModelLoadOptions());
    }

    /// <summary>
    /// Ends a deployment's router (it unloads its shards) and waits until every slot is free again: slots are
    /// accounted across deployments, and the four silos have only six, so each test gives its slots back.
    /// </summary>
    public async Task EndDeploymentAsync(string deployment)
    {
        await Client.GetGrain<IRouterGrain>(deployment).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await AllSlotsFreeAsync();
    }

    /// <summary>Waits until no shard holds a slot anywhere (those of disposed models unload in the background).</summary>
    public async Task AllSlotsFreeAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var silos = (await Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Keys;
            var holders = (await Task.WhenAll(silos.Select(s => Client.GetGrain<ISiloDevicesGrain>(ShardKey.ForSilo(s)).GetHolders()))).SelectMany(h => h).ToList();
            if (holders.Count == 0) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"slots still held after 60 s: {string.Join(", ", holders)}");
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        await GranaryTestCluster.StopAsync(_cluster);
        _reference?.Dispose();
        _tiedMqaReference?.Dispose();
        _folder.Dispose();
        _tiedMqa.Dispose();
        _draft.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ShardedClusterCollection : ICollectionFixture<ShardedClusterFixture>
{
    public const string Name = "sharded cluster";
}
