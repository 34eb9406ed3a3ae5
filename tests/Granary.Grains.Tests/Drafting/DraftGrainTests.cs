using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Speculation;
using Granary.Grains.Routing;
using Granary.Model.Loading;

namespace Granary.Grains.Tests.Drafting;

/// <summary>
/// Speculation with the draft on a draft grain: the same greedy tokens as plain single-device decoding (one
/// request, and a mixed batch), even when nearly every proposal is rejected; the same seeded samples as a
/// draft beside the engine; and a placement the deployment status shows.
/// </summary>
[Collection(DraftGrainClusterCollection.Name)]
public sealed class DraftGrainTests(DraftGrainClusterFixture fixture)
{
    static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(120);

    static readonly string[] Prompts = ["def fibonacci(n):", "The quick brown fox", "x", "import os\nimport sys"];

    [Theory]
    [InlineData(DraftGrainClusterFixture.OwnSlotName)]
    [InlineData(DraftGrainClusterFixture.CoLocatedName)]
    public async Task One_request_gets_the_plain_greedy_tokens(string deployment)
    {
        var request = Request(deployment, Prompts[0], Greedy(12));
        var results = await Serve([request]);
        Assert.Equal(PlainTokens(request), results[0]);
        await AssertSpeculated(deployment);
    }

    [Theory]
    [InlineData(DraftGrainClusterFixture.OwnSlotName)]
    [InlineData(DraftGrainClusterFixture.CoLocatedName)]
    public async Task A_mixed_batch_gets_the_plain_greedy_tokens(string deployment)
    {
        // Different prompt lengths and output lengths: sequences join, speculate and leave at different steps.
        var requests = Prompts.Select((p, i) => Request(deployment, p, Greedy(5 + 4 * i))).ToList();
        var results = await Serve(requests);
        for (int i = 0; i < requests.Count; i++) Assert.Equal(PlainTokens(requests[i]), results[i]);
        await AssertSpeculated(deployment);
    }

    [Fact]
    public async Task An_unrelated_draft_on_a_grain_is_mostly_rejected_and_the_tokens_stay_exact()
    {
        string deployment = DraftGrainClusterFixture.CoLocatedName;
        var requests = Prompts.Select((p, i) => Request(deployment, p, Greedy(16 + i))).ToList();
        var results = await Serve(requests);
        for (int i = 0; i < requests.Count; i++) Assert.Equal(PlainTokens(requests[i]), results[i]);
        var status = await Router(deployment).GetStatus();
        Assert.True(status.SpecDecodeNumDraftTokens > 0);
        Assert.True(status.SpecDecodeAcceptanceRate < 0.5, $"an unrelated draft should be mostly rejected (acceptance {status.SpecDecodeAcceptanceRate:F2})");
    }

    [Fact]
    public async Task Seeded_sampling_with_the_draft_on_a_grain_gives_the_tokens_of_a_local_draft()
    {
        string deployment = DraftGrainClusterFixture.OwnSlotName;
        var requests = Prompts.Select((p, i) => Request(deployment, p,
            new SamplingParams { Temperature = 0.8, TopP = i == 1 ? 0.9 : 1.0, TopK = i == 2 ? 20 : 0, Seed = 4000 + i, IgnoreEos = true, MaxTokens = 10 })).ToList();
        using var localDraft = DraftLoader.Load(fixture.CopyDraftDirectory, new ModelLoadOptions());
        var expected = requests.Select(r => new BatchGenerator(fixture.Reference.Model, fixture.Reference.Tokenizer, localDraft, DraftGrainClusterFixture.Speculation)
            .Generate([new GenerationRequest(r.PromptTokenIds, r.Sampling)]).Results[0].TokenIds.ToArray()).ToList();

        // One at a time, as the reference ran them (a sampled sequence's draws do not depend on its batch, but k does not adapt here either way).
        for (int i = 0; i < requests.Count; i++) Assert.Equal(expected[i], (await Serve([requests[i]]))[0]);
    }

    [Fact]
    public async Task The_draft_takes_a_free_slot_and_shares_a_shards_slot_when_none_is_free()
    {
        var ownSlot = await Router(DraftGrainClusterFixture.OwnSlotName).GetStatus();
        Assert.Equal("own-slot", ownSlot.DraftPlacement);
        // The router's silo has its one slot taken by the whole model: the draft is on the other silo.
        var silos = fixture.Cluster.Silos.Select(s => s.SiloAddress.ToString()).ToList();
        Assert.Contains(ownSlot.DraftHost, silos);
        Assert.DoesNotContain(ownSlot.DraftHost!, ownSlot.Host!);

        var coLocated = Router(DraftGrainClusterFixture.CoLocatedName);
        var status = await coLocated.GetStatus();
        Assert.Equal("co-located", status.DraftPlacement);
        var shards = await coLocated.GetShards();
        Assert.Equal(2, shards.Select(s => s.Silo).Distinct().Count()); // pp=2 took both slots
        Assert.Contains(status.DraftHost, shards.Select(s => s.Silo));
    }

    IRouterGrain Router(string deployment) => fixture.Client.GetGrain<IRouterGrain>(deployment);

    async Task AssertSpeculated(string deployment)
    {
        var status = await Router(deployment).GetStatus();
        Assert.True(status.IsSpeculative);
        Assert.True(status.SpecDecodeNumDraftTokens > 0, "the draft grain proposed nothing");
    }

    static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0, IgnoreEos = true, MaxTokens = maxTokens };

    CompletionRequest Request(string deployment, string prompt, SamplingParams sampling) => new()
    {
        Model = deployment,
        PromptTokenIds = fixture.Reference.Tokenizer.Encode(prompt, addBos: true).ToArray(),
        Sampling = sampling,
    };

    int[] PlainTokens(CompletionRequest request) =>
        new BatchGenerator(fixture.Reference.Model, fixture.Reference.Tokenizer)
            .Generate([new GenerationRequest(request.PromptTokenIds, request.Sampling)]).Results[0].TokenIds.ToArray();

    // Runs the requests concurrently (one batch in the router); each one's tokens, after checking no chunk failed.
    async Task<int[][]> Serve(IReadOnlyList<CompletionRequest> requests)
    {
        var results = await Task.WhenAll(requests.Select(async r =>
        {
            using var timeout = new CancellationTokenSource(TestTimeout);
            var chunks = new List<CompletionChunk>();
            await foreach (var chunk in fixture.Client.GetGrain<IRouterGrain>(r.Model).Generate(r, timeout.Token)) chunks.Add(chunk);
            return chunks;
        }));
        foreach (var chunks in results) Assert.All(chunks, c => Assert.Null(c.Error));
        return results.Select(chunks => chunks.SelectMany(c => c.TokenIds).ToArray()).ToArray();
    }
}
