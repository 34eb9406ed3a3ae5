using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Grains.Routing;
using Granary.Grains.Sharding;
using Granary.Model.Runtime;
using Granary.TestKit;
using static TorchSharp.torch;

namespace Granary.Grains.Tests.Sharding;

/// <summary>
/// Plans on a 4-silo cluster are exact: shard grains give the single-device logits (within 1e-4) step by
/// step, and a deployment served through its router gives the single-device greedy tokens.
/// </summary>
[Collection(ShardedClusterCollection.Name)]
public sealed class ShardedPlanTests(ShardedClusterFixture fixture)
{
    const double LogitTolerance = 1e-4;
    static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(120);
    static int _generation = 100; // fresh shard keys per test, apart from the routers' generation 0

    public static TheoryData<string> Plans => new(ShardedClusterFixture.Plans);

    public static TheoryData<string, string> PlansAndShapes()
    {
        var data = new TheoryData<string, string>();
        foreach (string plan in ShardedClusterFixture.Plans) data.Add(plan, "gqa-5-layers");
        foreach (string plan in new[] { "pp=3", "tp=4", "pp=2,tp=2", "pp=2,tp=2,vp=2" }) data.Add(plan, "tied-mqa");
        return data;
    }

    [Theory]
    [MemberData(nameof(PlansAndShapes))]
    public async Task Shard_grains_give_the_single_device_logits_every_step(string plan, string shape)
    {
        bool tied = shape == "tied-mqa";
        var deployment = fixture.Deployment(plan) with { ModelDirectory = tied ? fixture.TiedMqaDirectory : fixture.ModelDirectory };
        var referenceModel = (tied ? fixture.TiedMqaReference : fixture.Reference).Model;
        var (model, _) = await ShardedDeployment.LoadAsync(deployment, fixture.Client, Interlocked.Increment(ref _generation));
        try
        {
            // Blocking steps run off the test's synchronization context, as they do on the router's serving thread.
            var (sharded, reference) = await Task.Run(() => (MixedStepScript.Run(model), MixedStepScript.Run(referenceModel)));
            Assert.Equal(reference.Tokens, sharded.Tokens);
            double difference = MixedStepScript.MaxLogitDifference(reference, sharded);
            Assert.True(difference <= LogitTolerance, $"plan {plan}: logits differ by {difference:G3}");
            var traffic = model.Traffic.Snapshot();
            Assert.True(traffic.BytesBetweenStages > 0 == plan.Contains("pp"), $"bytes between stages: {traffic.BytesBetweenStages}");
            Assert.True(traffic.VocabularyBytes > 0 == plan.Contains("vp"), $"bytes to and from vocabulary parts: {traffic.VocabularyBytes}");
        }
        finally
        {
            model.Dispose(); // unloads the shards, which free their slots
            await fixture.AllSlotsFreeAsync();
        }
    }

    [Theory]
    [InlineData("pp=2")]
    [InlineData("pp=3")]
    [InlineData("pp=2,tp=2")]
    public async Task Steps_from_several_threads_at_once_each_give_the_single_device_logits(string plan)
    {
        // What a router's serving lanes do: threads step their own sequences through the same shards at once.
        const int threads = 3;
        var (model, _) = await ShardedDeployment.LoadAsync(fixture.Deployment(plan), fixture.Client, Interlocked.Increment(ref _generation));
        try
        {
            Assert.True(model.SupportsConcurrentSteps);
            var reference = await Task.Run(() => MixedStepScript.Run(fixture.Reference.Model));
            using var together = new Barrier(threads); // every step of every thread starts with the others'
            var results = await Task.WhenAll(Enumerable.Range(0, threads).Select(_ =>
                Task.Factory.StartNew(() => MixedStepScript.Run(model, beforeEachStep: () => Assert.True(together.SignalAndWait(TestTimeout), "another thread's step never came")), TaskCreationOptions.LongRunning)));
            foreach (var result in results)
            {
                Assert.Equal(reference.Tokens, result.Tokens);
                double difference = MixedStepScript.MaxLogitDifference(reference, result);
                Assert.True(difference <= LogitTolerance, $"plan {plan}: logits differ by {difference:G3}");
            }
        }
        finally
        {
            model.Dispose();
            await fixture.AllSlotsFreeAsync();
        }
    }

    [Fact]
    public async Task Speculative_decoding_over_a_pp2_plan_gives_the_plain_single_device_greedy_tokens()
    {
        try
        {
            await ServesSingleDeviceTokens("pp=2", ShardedClusterFixture.SpeculativeDeploymentName, null);
            var status = await fixture.Client.GetGrain<IRouterGrain>(ShardedClusterFixture.SpeculativeDeploymentName).GetStatus();
            Assert.True(status.IsSpeculative);
            Assert.True(status.SpecDecodeNumDraftTokens > 0);
            Assert.True(status.SpecDecodeNumAcceptedTokens < status.SpecDecodeNumDraftTokens, "an unrelated draft should see rejections (rollbacks on the shards)");
        }
        finally
        {
            await fixture.EndDeploymentAsync(ShardedClusterFixture.SpeculativeDeploymentName);
        }
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public Task A_planned_deployment_serves_the_single_device_greedy_tokens(string plan) =>
        ServesSingleDeviceGreedyTokens(plan, ShardedClusterFixture.DeploymentName(plan));

    [Theory]
    [InlineData("vp=4")]
    [InlineData("pp=2,tp=2,vp=2")]
    public Task Seeded_sampling_over_a_vocabulary_parallel_deployment_gives_the_single_device_tokens(string plan) =>
        ServesSingleDeviceGreedyTokens(plan, ShardedClusterFixture.DeploymentName(plan),
            i => new SamplingParams { Temperature = 0.9, TopP = 0.9, TopK = i == 0 ? 0 : 50, Seed = 500 + i, IgnoreEos = true, MaxTokens = 6 + i });

    async Task ServesSingleDeviceGreedyTokens(string plan, string deployment, Func<int, SamplingParams>? sampling = null)
    {
        try
        {
            await ServesSingleDeviceTokens(plan, deployment, sampling);
        }
        finally
        {
            await fixture.EndDeploymentAsync(deployment);
        }
    }

    async Task ServesSingleDeviceTokens(string plan, string deployment, Func<int, SamplingParams>? sampling)
    {
        var router = fixture.Client.GetGrain<IRouterGrain>(deployment);
        string[] prompts = ["def fibonacci(n):", "The quick brown fox", "x", "import os\nimport sys"];
        var requests = prompts.Select((p, i) => new CompletionRequest
        {
            Model = deployment,
            PromptTokenIds = fixture.Reference.Tokenizer.Encode(p, addBos: true).ToArray(),
            Sampling = sampling?.Invoke(i) ?? new SamplingParams { Temperature = 0, IgnoreEos = true, MaxTokens = 5 + 2 * i },
        }).ToList();
        var solos = requests.Select(r => new BatchGenerator(fixture.Reference.Model, fixture.Reference.Tokenizer)
            .Generate([new GenerationRequest(r.PromptTokenIds, r.Sampling)]).Results[0]).ToList();

        var results = await Task.WhenAll(requests.Select(async r =>
        {
            using var timeout = new CancellationTokenSource(TestTimeout);
            var chunks = new List<CompletionChunk>();
            await foreach (var chunk in router.Generate(r, timeout.Token)) chunks.Add(chunk);
            return chunks;
        }));

        for (int i = 0; i < requests.Count; i++)
        {
            Assert.All(results[i], c => Assert.Null(c.Error));
            Assert.Equal(solos[i].TokenIds, results[i].SelectMany(c => c.TokenIds).ToArray());
        }
        var shards = await router.GetShards();
        Assert.Equal(ParsePlanShards(plan), shards.Count);
        // Pipelined plans serve in one lane per stage, unless their shards keep one step's state (vp, sp) or a draft runs.
        var parsed = ParallelPlan.Parse(plan);
        bool lanesAllowed = !parsed.IsVocabParallel && !parsed.IsSequenceParallel && deployment != ShardedClusterFixture.SpeculativeDeploymentName;
        Assert.Equal(lanesAllowed ? parsed.PipelineStages : 1, (await router.GetStatus()).NumServingLanes);
    }

    [Fact]
    public async Task A_prompt_longer_than_one_shards_kv_budget_is_served_with_sp_and_refused_without()
    {
        // 30 prompt tokens + 8 generated: more than one shard's 24 positions, within two shards' 48.
        var prompt = Enumerable.Range(0, 30).Select(i => 3 + i * 7 % 200).ToArray();
        var sampling = new SamplingParams { Temperature = 0, IgnoreEos = true, MaxTokens = 8 };
        var expected = new BatchGenerator(fixture.Reference.Model, fixture.Reference.Tokenizer).Generate([new GenerationRequest(prompt, sampling)]).Results[0];

        List<CompletionChunk> served, refused;
        try
        {
            served = await Collect(ShardedClusterFixture.BudgetedDeploymentName("sp=2"), prompt, sampling);
            refused = await Collect(ShardedClusterFixture.BudgetedDeploymentName("none"), prompt, sampling);
        }
        finally
        {
            await fixture.EndDeploymentAsync(ShardedClusterFixture.BudgetedDeploymentName("sp=2"));
        }
        Assert.All(served, c => Assert.Null(c.Error));
        Assert.Equal(expected.TokenIds, served.SelectMany(c => c.TokenIds).ToArray());

        var error = Assert.Single(refused).Error;
        Assert.NotNull(error);
        Assert.Equal(ServingErrorKind.InvalidRequest, error.Kind);
        Assert.Contains("at most 24 KV positions", error.Message);
        Assert.Contains("sequence shards (sp)", error.Message);
    }

    async Task<List<CompletionChunk>> Collect(string deployment, int[] prompt, SamplingParams sampling)
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        var chunks = new List<CompletionChunk>();
        var request = new CompletionRequest { Model = deployment, PromptTokenIds = prompt, Sampling = sampling };
        await foreach (var chunk in fixture.Client.GetGrain<IRouterGrain>(deployment).Generate(request, timeout.Token)) chunks.Add(chunk);
        return chunks;
    }

    [Fact]
    public async Task Vocabulary_parts_spread_over_the_stages_and_extra_parts_get_shards_of_their_own()
    {
        var router = fixture.Client.GetGrain<IRouterGrain>(ShardedClusterFixture.DeploymentName("vp=4"));
        IReadOnlyList<ShardReport> shards;
        try
        {
            await router.GetStatus();
            shards = await router.GetShards();
        }
        finally
        {
            await fixture.EndDeploymentAsync(ShardedClusterFixture.DeploymentName("vp=4"));
        }

        Assert.Equal(4, shards.Count); // the one layer shard holds part 0; parts 1-3 are vocabulary-only
        Assert.Equal([0, -1, -1, -1], shards.OrderBy(s => s.VocabStart).Select(s => s.Stage));
        Assert.Equal([0, 128, 256, 384], shards.OrderBy(s => s.VocabStart).Select(s => s.VocabStart));
        Assert.All(shards, s => Assert.Equal(128, s.VocabCount));
        Assert.Equal(4, shards.Select(s => s.Silo).Distinct().Count()); // never two shards on one slot: here, one per silo
    }

    [Fact]
    public async Task Placement_keeps_a_stages_ranks_together_and_spreads_stages()
    {
        var router = fixture.Client.GetGrain<IRouterGrain>(ShardedClusterFixture.DeploymentName("pp=2,tp=2"));
        IReadOnlyList<ShardReport> shards;
        try
        {
            await router.GetStatus();
            shards = await router.GetShards();
        }
        finally
        {
            await fixture.EndDeploymentAsync(ShardedClusterFixture.DeploymentName("pp=2,tp=2"));
        }

        Assert.Equal(4, shards.Count);
        var siloOfStage = shards.GroupBy(s => s.Stage).ToDictionary(g => g.Key, g => g.Select(s => s.Silo).Distinct().ToList());
        Assert.All(siloOfStage.Values, silos => Assert.Single(silos));   // two-slot silos take a stage whole
        Assert.NotEqual(siloOfStage[0][0], siloOfStage[1][0]);            // stages on different silos
        Assert.Equal([(0, 3), (0, 3), (3, 5), (3, 5)], shards.OrderBy(s => s.Stage).ThenBy(s => s.Rank).Select(s => (s.LayerStart, s.LayerEnd)));
        Assert.All(shards, s => Assert.True(s.ParameterBytes > 0));
    }

    static int ParsePlanShards(string plan) => Granary.Abstractions.Sharding.ParallelPlan.Parse(plan).NumShards;
}
