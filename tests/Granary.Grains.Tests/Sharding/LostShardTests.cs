using static Granary.Grains.Tests.SurvivingCalls;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Abstractions.Sharding;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Grains.Deployments;
using Granary.Grains.Routing;
using Granary.Model.Loading;
using Granary.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Granary.Grains.Tests.Sharding;

/// <summary>
/// A silo holding a shard dies: its request in flight fails as retryable, the shards are placed again on the
/// remaining slots, and new requests are served with the single-device tokens.
/// </summary>
public sealed class LostShardTests : IAsyncLifetime
{
    const string Name = "tiny-lost";
    static readonly TimeSpan Recovery = TimeSpan.FromSeconds(120);

    readonly SynthesizedModelFolder _folder = new(ShardedClusterFixture.Shape with { MaxPositionEmbeddings = 1024 });
    InProcessTestCluster? _cluster;

    public async Task InitializeAsync()
    {
        var deployment = new DeploymentOptions
        {
            Name = Name,
            ModelDirectory = _folder.Path,
            Plan = ParallelPlan.Parse("pp=2"),
            Scheduler = new SchedulerOptions { MaxNumRunningSequences = 8 },
        };
        _cluster = await GranaryTestCluster.StartAsync(4, (index, services) =>
        {
            // The first silo (the test cluster's primary) offers no slot, so the silo killed below is never it.
            services.AddGranaryDeployments([deployment]).AddGranaryShards(deviceSlots: index == 0 ? 0 : 1);
        });
    }

    public async Task DisposeAsync()
    {
        await GranaryTestCluster.StopAsync(_cluster);
        _folder.Dispose();
    }

    [Fact]
    public async Task Shards_are_placed_again_after_their_silo_dies_and_requests_succeed()
    {
        var cluster = _cluster!;
        var router = cluster.Client.GetGrain<IRouterGrain>(Name);
        using var reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
        var prompt = reference.Tokenizer.Encode("def fibonacci(n):", addBos: true).ToArray();
        var expected = new BatchGenerator(reference.Model, reference.Tokenizer)
            .Generate([new GenerationRequest(prompt, Greedy(8))]).Results[0].TokenIds;

        Assert.Equal(expected, Tokens(await Collect(router, prompt, Greedy(8))));
        var before = await router.GetShards();
        string routerHost = (await router.GetStatus()).Host!;
        // A shard's silo, not the router's if there is a choice (losing the router too is also survived, by re-activation).
        var victimAddress = before.Select(s => s.Silo).OrderBy(s => routerHost.Contains(s) ? 1 : 0).First();
        var victim = cluster.Silos.Single(s => s.SiloAddress.ToString() == victimAddress);

        var inFlight = Collect(router, prompt, Greedy(900));
        await Task.Delay(300);
        await cluster.KillSiloAsync(victim);

        var interrupted = await inFlight;
        if (interrupted[^1].Error is { } error) Assert.True(error.Kind == ServingErrorKind.Unavailable, $"{error.Kind}: {error.Message}"); // retryable, not a 500

        var recovered = await RetryUntilServed(router, prompt);
        Assert.Equal(expected, Tokens(recovered));
        var after = await router.GetShards();
        Assert.Equal(2, after.Count);
        Assert.DoesNotContain(after, s => s.Silo == victimAddress);
        Assert.Empty(after.Select(s => s.Key).Intersect(before.Select(s => s.Key))); // a new generation of shard grains
    }

    static Task<List<CompletionChunk>> Collect(IRouterGrain router, int[] prompt, SamplingParams sampling) =>
        SurvivingCalls.Collect(router, Name, prompt, sampling, Recovery);

    static Task<List<CompletionChunk>> RetryUntilServed(IRouterGrain router, int[] prompt) =>
        SurvivingCalls.RetryUntilServed(router, Name, prompt, Recovery);
}
