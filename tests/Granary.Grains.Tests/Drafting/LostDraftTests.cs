using static Granary.Grains.Tests.SurvivingCalls;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Abstractions.Sharding;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Grains.Deployments;
using Granary.Grains.Routing;
using Granary.Grains.Tests.Sharding;
using Granary.Model.Loading;
using Granary.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Granary.Grains.Tests.Drafting;

/// <summary>
/// The silo holding the draft grain dies: the request in flight fails as retryable (never hangs, never a 500),
/// the shards and the draft are placed again on the remaining slots, and new requests get the plain tokens.
/// </summary>
public sealed class LostDraftTests : IAsyncLifetime
{
    const string Name = "tiny-lost-draft";
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
            DraftDirectory = _folder.Path, // a copy: proposals are accepted, so the draft is called every step
            Speculation = new Engine.Speculation.SpeculationOptions { NumSpeculativeTokens = 2, IsAdaptive = false },
        };
        _cluster = await GranaryTestCluster.StartAsync(4, (index, services) =>
        {
            // The primary offers no slot, so the silo killed below is never it; three slots: two shards and the draft.
            services.AddGranaryDeployments([deployment]).AddGranaryShards(deviceSlots: index == 0 ? 0 : 1);
        });
    }

    public async Task DisposeAsync()
    {
        await GranaryTestCluster.StopAsync(_cluster);
        _folder.Dispose();
    }

    [Fact]
    public async Task The_draft_is_placed_again_after_its_silo_dies_and_requests_succeed()
    {
        var cluster = _cluster!;
        var router = cluster.Client.GetGrain<IRouterGrain>(Name);
        using var reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
        var prompt = reference.Tokenizer.Encode("def fibonacci(n):", addBos: true).ToArray();
        var expected = new BatchGenerator(reference.Model, reference.Tokenizer).Generate([new GenerationRequest(prompt, Greedy(8))]).Results[0].TokenIds;

        Assert.Equal(expected, Tokens(await Collect(router, prompt, Greedy(8))));
        var before = await router.GetStatus();
        Assert.Equal("own-slot", before.DraftPlacement);
        var victim = cluster.Silos.Single(s => s.SiloAddress.ToString() == before.DraftHost);

        var inFlight = Collect(router, prompt, Greedy(900));
        await Task.Delay(300);
        await cluster.KillSiloAsync(victim);

        var interrupted = await inFlight;
        if (interrupted[^1].Error is { } error) Assert.True(error.Kind == ServingErrorKind.Unavailable, $"{error.Kind}: {error.Message}");

        var recovered = await RetryUntilServed(router, prompt);
        Assert.Equal(expected, Tokens(recovered));
        var after = await router.GetStatus();
        Assert.True(after.IsSpeculative);
        Assert.NotNull(after.DraftHost);
        Assert.NotEqual(before.DraftHost, after.DraftHost);
    }

    static Task<List<CompletionChunk>> Collect(IRouterGrain router, int[] prompt, SamplingParams sampling) =>
        SurvivingCalls.Collect(router, Name, prompt, sampling, Recovery);

    static Task<List<CompletionChunk>> RetryUntilServed(IRouterGrain router, int[] prompt) =>
        SurvivingCalls.RetryUntilServed(router, Name, prompt, Recovery);
}
