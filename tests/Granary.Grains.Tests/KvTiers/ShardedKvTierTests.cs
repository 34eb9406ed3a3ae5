using System.Runtime.CompilerServices;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Abstractions.Sharding;
using Granary.Engine.Generation;
using Granary.Engine.KvReuse;
using Granary.Engine.Scheduling;
using Granary.Grains.Deployments;
using Granary.Grains.KvTiers;
using Granary.Grains.Routing;
using Granary.Grains.Sharding;
using Granary.Grains.Tests.Sharding;
using Granary.Model.Loading;
using Granary.TestKit;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Granary.Grains.Tests.KvTiers;

/// <summary>
/// The KV tier over shard grains, on three silos with one device slot each and a file-backed "cxl" folder of
/// their own: every shard keeps its slice of each block, demoted slices go to the tier grain of the shard's
/// silo, and a turn restored from any tier gives the single-device greedy tokens.
/// </summary>
public sealed class ShardedKvTierTests : IAsyncLifetime
{
    const int BlockSize = 4;
    static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(120);

    readonly SynthesizedModelFolder _folder = new(ShardedClusterFixture.Shape);
    readonly TempDirectory[] _cxlFolders = [new(), new(), new()];
    InProcessTestCluster? _cluster;
    LoadedModel? _reference;

    static string Name(string plan) => "kv-" + plan.Replace(',', '-').Replace("=", "");

    const string OneAtATime = "kv-pp2-one";

    public async Task InitializeAsync()
    {
        // Device 3 blocks, host 3, cxl 16: four programs of 3 blocks each push the first one down to cxl.
        var tiers = new KvReuseOptions { BlockSize = BlockSize, DeviceCapacityBlocks = 3, HostCapacityBlocks = 3, CxlCapacityBlocks = 16 };
        var deployments = new[] { "pp=2", "tp=2", "pp=2,tp=2" }.Select(plan => new DeploymentOptions
        {
            Name = Name(plan),
            ModelDirectory = _folder.Path,
            Plan = ParallelPlan.Parse(plan),
            Scheduler = new SchedulerOptions { MaxNumRunningSequences = 8, KvCacheTokenBudget = 4096 },
            KvReuse = tiers,
        }).ToList();
        // One sequence at a time: a turn submitted while another runs waits, and its blocks are prefetched meanwhile.
        deployments.Add(deployments[0] with { Name = OneAtATime, Scheduler = new SchedulerOptions { MaxNumRunningSequences = 1, KvCacheTokenBudget = 4096 } });
        _cluster = await GranaryTestCluster.StartAsync(3, (index, services) =>
        {
            services.AddGranaryDeployments(deployments)
                .AddGranaryShards(deviceSlots: 4, cxl: new CxlMemory(Path: _cxlFolders[index % 3].Path)); // room for every deployment at once (slots are held cluster-wide)
        });
        _reference = ModelLoader.Load(_folder.Path, new ModelLoadOptions());
    }

    public async Task DisposeAsync()
    {
        await GranaryTestCluster.StopAsync(_cluster);
        _reference?.Dispose();
        _folder.Dispose();
        foreach (var folder in _cxlFolders) folder.Dispose();
    }

    [Theory]
    [InlineData("pp=2")]
    [InlineData("tp=2")]
    [InlineData("pp=2,tp=2")]
    public async Task Turns_restored_from_device_host_and_cxl_on_the_shards_give_the_single_device_tokens(string plan)
    {
        var client = _cluster!.Client;
        var router = client.GetGrain<IRouterGrain>(Name(plan));
        // Four programs, one turn each (12-token prompts, 4 tokens out: 3 whole blocks kept per program).
        var programs = Enumerable.Range(0, 4).Select(p => Enumerable.Range(0, 12).Select(i => 5 + (p * 37 + i * 11) % 240).ToArray()).ToArray();
        var firstTurns = new int[4][];
        for (int p = 0; p < 4; p++) firstTurns[p] = await Turn(router, plan, $"p{p}", programs[p]);

        // Now program 0's blocks are on cxl, program 1's too, program 2's on host, program 3's on the device.
        var status = await router.GetStatus();
        Assert.Equal([3, 3, 6], status.KvTierBlocks);
        Assert.Equal([0L, 0L, 0L], status.KvTierHits);

        // Second turns (prompt = first prompt + its output + 4 new tokens) reuse all 3 blocks from where they are
        // (a reuse brings blocks back to the device: program 2's push program 3's to host, not yet program 0's).
        long[] expectedHits = [0, 0, 0];
        foreach (var (p, tier) in new[] { (3, KvTier.Device), (2, KvTier.Host), (0, KvTier.Cxl) })
        {
            int[] prompt = [.. programs[p], .. firstTurns[p], 7, 8, 9, 10];
            await Turn(router, plan, $"p{p}", prompt);
            expectedHits[(int)tier] += 3;
            Assert.Equal(expectedHits, (await router.GetStatus()).KvTierHits);
        }

        // The shards' slices of the demoted blocks live in the tier grains of their own silos.
        var shards = await router.GetShards();
        var reports = await Task.WhenAll(shards.Select(s => ShardKey.SiloOf(s.Key)).Distinct()
            .Select(s => client.GetGrain<IKvTierGrain>(ShardKey.ForKvTier(s)).Describe()));
        Assert.All(reports, r => Assert.True(r.HasCxl));
        Assert.True(reports.Sum(r => r.NumSlices) >= shards.Count, $"{reports.Sum(r => r.NumSlices)} slices for {shards.Count} shards");
        Assert.True(reports.Sum(r => r.CxlBlocks) > 0 && reports.Sum(r => r.HostBlocks) > 0,
            string.Join("; ", reports.Select(r => $"{r.Silo}: host {r.HostBlocks}, cxl {r.CxlBlocks}")));
    }

    [Fact]
    public async Task Turns_that_wait_behind_another_request_are_prefetched_from_host_and_cxl_and_stay_exact()
    {
        var router = _cluster!.Client.GetGrain<IRouterGrain>(OneAtATime);
        var programs = Enumerable.Range(0, 4).Select(p => Enumerable.Range(0, 12).Select(i => 9 + (p * 53 + i * 13) % 240).ToArray()).ToArray();
        var firstTurns = new int[4][];
        for (int p = 0; p < 4; p++) firstTurns[p] = await Turn(router, OneAtATime, $"p{p}", programs[p]);
        var blocks = (await router.GetStatus()).KvTierBlocks;
        Assert.Equal([3, 3, 6], blocks);

        int[] returning = [2, 0]; // from host, then from cxl
        foreach (int p in returning)
        {
            // A long request holds the only running slot; the turn queues behind it (its blocks are prefetched
            // with the blocker's steps), then the blocker is cancelled, so it keeps no blocks of its own.
            // (Counted, not timed: a blocker that finished would keep its 200 tokens' blocks and push the others down.)
            using var stopBlocker = new CancellationTokenSource(TestTimeout);
            var blockerTokens = new StrongBox<int>();
            var blocker = Drain(router.Generate(new CompletionRequest
            {
                Model = OneAtATime, PromptTokenIds = [200, 201, 202], Tenant = "acme",
                Sampling = new SamplingParams { Temperature = 0, IgnoreEos = true, MaxTokens = BlockerTokens },
            }, stopBlocker.Token), blockerTokens);
            while ((await router.GetStatus()).NumRunning == 0) await Task.Delay(5);
            var turn = Turn(router, OneAtATime, $"p{p}", [.. programs[p], .. firstTurns[p], 7, 8, 9, 10]);
            while ((await router.GetStatus()).NumWaiting == 0) await Task.Delay(5);
            int queuedAt = Volatile.Read(ref blockerTokens.Value);
            while (Volatile.Read(ref blockerTokens.Value) < queuedAt + 4) await Task.Delay(1); // a few of the blocker's steps: the prefetch reaches the shards
            stopBlocker.Cancel();
            await blocker;
            Assert.True(blockerTokens.Value < BlockerTokens, "the blocker finished before it was cancelled");
            await turn;
        }
        var hits = (await router.GetStatus()).KvTierHits;
        Assert.Equal(new long[] { 0, 3, 3 }, hits);
    }

    const int BlockerTokens = 200;

    static async Task Drain(IAsyncEnumerable<CompletionChunk> chunks, StrongBox<int> numTokens)
    {
        try
        {
            await foreach (var chunk in chunks) Interlocked.Add(ref numTokens.Value, chunk.TokenIds.Length);
        }
        catch (OperationCanceledException)
        {
        }
    }

    // One greedy turn of a program through the router; its tokens must be the single-device engine's.
    async Task<int[]> Turn(IRouterGrain router, string plan, string? program, int[] prompt, int maxTokens = 4)
    {
        var sampling = new SamplingParams { Temperature = 0, IgnoreEos = true, MaxTokens = maxTokens };
        var expected = new BatchGenerator(_reference!.Model, _reference.Tokenizer).Generate([new GenerationRequest(prompt, sampling)]).Results[0].TokenIds;
        using var timeout = new CancellationTokenSource(TestTimeout);
        var request = new CompletionRequest { Model = plan.StartsWith("kv-") ? plan : Name(plan), PromptTokenIds = prompt, Sampling = sampling, Tenant = "acme", Program = program };
        var chunks = new List<CompletionChunk>();
        await foreach (var chunk in router.Generate(request, timeout.Token)) chunks.Add(chunk);
        Assert.All(chunks, c => Assert.Null(c.Error));
        var tokens = chunks.SelectMany(c => c.TokenIds).ToArray();
        Assert.Equal(expected, tokens);
        return tokens;
    }
}
