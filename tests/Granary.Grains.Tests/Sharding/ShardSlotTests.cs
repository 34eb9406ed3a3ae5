using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Abstractions.Sharding;
using Granary.Engine.Generation;
using Granary.Grains.Routing;
using Granary.Grains.Deployments;
using Granary.Grains.Sharding;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Granary.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Granary.Grains.Tests.Sharding;

/// <summary>
/// Device slots are held cluster-wide: a second deployment never gets a slot a first one holds, gets it once
/// the first ends, and the shards a dead router left on other silos free theirs when their lease lapses. Each
/// test has its own cluster of four silos, three of them with one slot (the primary is never the one stopped). A
/// shard that lost its weights while its silo stayed (its lease lapsed) makes the router place the deployment again.
/// </summary>
public sealed class ShardSlotTests : IAsyncLifetime
{
    static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    const string Routed = "tiny-routed";

    readonly SynthesizedModelFolder _folder = new(ShardedClusterFixture.Shape);
    InProcessTestCluster? _cluster;

    public async Task InitializeAsync()
    {
        _cluster = await GranaryTestCluster.StartAsync(4, (index, services) =>
        {
            services.AddGranaryShards(deviceSlots: index == 0 ? 0 : 1).AddGranaryDeployments([Deployment(Routed)]);
        });
    }

    public async Task DisposeAsync()
    {
        await GranaryTestCluster.StopAsync(_cluster);
        _folder.Dispose();
    }

    DeploymentOptions Deployment(string name) => new()
    {
        Name = name,
        ModelDirectory = _folder.Path,
        Plan = ParallelPlan.Parse("pp=2"),
        ShardLease = Lease,
    };

    [Fact]
    public async Task A_second_deployment_waits_for_the_slots_the_first_holds_and_takes_them_when_it_ends()
    {
        var client = _cluster!.Client;
        var (first, firstShards) = await ShardedDeployment.LoadAsync(Deployment("first"), client, generation: 1);
        Assert.Equal(2, firstShards.Select(s => s.Silo).Distinct().Count());

        // Three slots, two held: the second pp=2 deployment cannot be placed beside the first.
        var second = ShardedDeployment.LoadAsync(Deployment("second"), client, generation: 1);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(second.IsCompleted, "the second deployment was placed on a slot the first holds");
        Assert.Equal(firstShards.Select(s => s.Key).Order(), await Holders(client));
        Assert.Equal(await Expected(), await first.NextToken()); // the first deployment still steps

        first.Dispose(); // the deployment ends: its shards unload and free their slots
        var (secondModel, secondShards) = await second.WaitAsync(Patience);
        using (secondModel)
        {
            Assert.Equal(secondShards.Select(s => s.Key).Order(), await Holders(client));
            Assert.Equal(2, secondShards.Select(s => s.Silo).Distinct().Count());
            Assert.Equal(await Expected(), await secondModel.NextToken());
        }
    }

    [Fact]
    public async Task A_deployment_placed_again_takes_over_its_earlier_placements_slots_at_once()
    {
        var client = _cluster!.Client;
        var (earlier, earlierShards) = await ShardedDeployment.LoadAsync(Deployment("again"), client, generation: 1);

        // Three slots, two held by placement 1: placement 2 of the same deployment (as after a lost silo, while
        // the survivors of placement 1 have not unloaded yet) does not wait for them; it frees and unloads them.
        var (later, laterShards) = await ShardedDeployment.LoadAsync(Deployment("again"), client, generation: 2).WaitAsync(TimeSpan.FromSeconds(30));
        using (later)
        {
            Assert.Equal(laterShards.Select(s => s.Key).Order(), await Holders(client));
            Assert.Equal(await Expected(), await later.NextToken());
            var deadline = DateTime.UtcNow + Patience;
            while (true) // the earlier placement's shards were told to unload: they hold no weights any more
            {
                try
                {
                    await client.GetGrain<IShardGrain>(earlierShards[0].Key).RenewLease(Lease);
                }
                catch (ShardUnavailableException)
                {
                    break;
                }
                Assert.True(DateTime.UtcNow < deadline, "the earlier placement's shard still holds its weights");
                await Task.Delay(200);
            }
        }
        earlier.Dispose(); // stops renewing leases its shards no longer hold
    }

    [Fact]
    public async Task Shards_of_a_router_whose_silo_died_free_their_slots_when_their_lease_lapses()
    {
        var cluster = _cluster!;
        // The "router" runs on a silo with a slot, not the first (the primary): its grain factory makes and renews the shards; the last stage sits with it.
        var withSlots = await Task.WhenAll(cluster.Silos.Skip(1).Select(async silo =>
            (Silo: silo, Slots: await cluster.Client.GetGrain<ISiloDevicesGrain>(ShardKey.ForSilo(silo.SiloAddress)).GetDeviceSlots())));
        var routerSilo = withSlots.First(s => s.Slots == 1).Silo;
        var routerGrains = routerSilo.ServiceProvider.GetRequiredService<IGrainFactory>();
        var (orphaned, shards) = await ShardedDeployment.LoadAsync(Deployment("orphaned"), routerGrains, generation: 1, routerSilo: routerSilo.SiloAddress);
        Assert.Equal(await Expected(), await orphaned.NextToken());
        var survivor = shards.Single(s => s.Silo != routerSilo.SiloAddress.ToString());
        await Task.Delay(Lease * 2);
        Assert.Contains(survivor.Key, await Holders(cluster.Client)); // renewed leases keep the shards past one lease

        await cluster.KillSiloAsync(routerSilo); // nobody renews the survivor's lease any more
        var deadline = DateTime.UtcNow + Patience;
        while ((await Holders(cluster.Client)).Contains(survivor.Key))
        {
            Assert.True(DateTime.UtcNow < deadline, $"shard {survivor.Key} still holds its slot {Patience.TotalSeconds} s after its router's silo died");
            await Task.Delay(200);
        }

        // Its slot serves a new deployment, placed over the two silos left.
        var (next, nextShards) = await ShardedDeployment.LoadAsync(Deployment("next"), cluster.Client, generation: 1).WaitAsync(Patience);
        using (next)
        {
            Assert.Contains(nextShards, s => s.Silo == survivor.Silo);
            Assert.Equal(await Expected(), await next.NextToken());
        }
    }

    [Fact]
    public async Task A_shard_that_lost_its_weights_is_placed_again_and_requests_succeed()
    {
        var router = _cluster!.Client.GetGrain<IRouterGrain>(Routed);
        using var reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
        var prompt = reference.Tokenizer.Encode("def fibonacci(n):", addBos: true).ToArray();
        var sampling = new SamplingParams { Temperature = 0, IgnoreEos = true, MaxTokens = 6 };
        var expected = new BatchGenerator(reference.Model, reference.Tokenizer).Generate([new GenerationRequest(prompt, sampling)]).Results[0].TokenIds;
        Assert.Equal(expected, await Generate(router, prompt, sampling));
        var before = await router.GetShards();

        await _cluster.Client.GetGrain<IShardGrain>(before[0].Key).Unload(); // as when its lease lapsed while its silo stayed

        // The router's next renewal finds it empty and places the deployment again; requests meanwhile fail as retryable.
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var after = await router.GetShards();
            if (after.Count == 2 && !after.Select(s => s.Key).Intersect(before.Select(s => s.Key)).Any())
            {
                Assert.Equal(expected, await Generate(router, prompt, sampling));
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"not placed again {Patience.TotalSeconds} s after a shard lost its weights");
            await Task.Delay(200);
        }
    }

    static async Task<int[]> Generate(IRouterGrain router, int[] prompt, SamplingParams sampling)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var chunks = new List<CompletionChunk>();
        await foreach (var chunk in router.Generate(new CompletionRequest { Model = Routed, PromptTokenIds = prompt, Sampling = sampling }, timeout.Token))
            chunks.Add(chunk);
        Assert.All(chunks, c => Assert.Null(c.Error));
        return chunks.SelectMany(c => c.TokenIds).ToArray();
    }

    async Task<long> Expected()
    {
        using var reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
        return await reference.Model.NextToken();
    }

    async Task<List<string>> Holders(IClusterClient client)
    {
        var silos = (await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Keys;
        var holders = await Task.WhenAll(silos.Select(s => client.GetGrain<ISiloDevicesGrain>(ShardKey.ForSilo(s)).GetHolders()));
        return holders.SelectMany(h => h).Order().ToList();
    }
}

static class OneStep
{
    /// <summary>The greedy next token after a short prompt, off the test's context (a sharded step blocks).</summary>
    public static Task<long> NextToken(this ICausalLm model) => Task.Run(() =>
    {
        using var cache = model.NewCache(8);
        using var logits = model.Step([new StepInput(cache, [1, 2, 3])]);
        return logits.argmax(1).item<long>();
    });
}
