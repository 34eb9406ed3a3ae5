using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Grains.Routing;

namespace Granary.Grains.Tests.Routing;

/// <summary>A deployment with a draft: the router loads it beside the target, streams accepted tokens, counts them.</summary>
[Collection(RouterClusterCollection.Name)]
public sealed class SpeculativeRouterTests(RouterClusterFixture fixture)
{
    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(RouterClusterFixture.SpeculativeModelName);

    [Fact]
    public async Task Concurrent_requests_get_the_plain_greedy_tokens_and_the_status_counts_speculation()
    {
        string[] prompts = ["def fibonacci(n):", "x", "import os\nimport sys"];
        var requests = prompts.Select((p, i) => new CompletionRequest
        {
            Model = RouterClusterFixture.SpeculativeModelName,
            PromptTokenIds = fixture.Reference.Tokenizer.Encode(p, addBos: true).ToArray(),
            Sampling = new SamplingParams { Temperature = 0, IgnoreEos = true, MaxTokens = 10 + 7 * i },
        }).ToList();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var streams = requests.Select(async r =>
        {
            var chunks = new List<CompletionChunk>();
            await foreach (var chunk in Router.Generate(r, timeout.Token)) chunks.Add(chunk);
            return chunks;
        }).ToList();
        var results = await Task.WhenAll(streams);

        for (int i = 0; i < requests.Count; i++)
        {
            var solo = new BatchGenerator(fixture.Reference.Model, fixture.Reference.Tokenizer)
                .Generate([new GenerationRequest(requests[i].PromptTokenIds, requests[i].Sampling)]).Results[0];
            Assert.Equal(solo.TokenIds, results[i].SelectMany(c => c.TokenIds));
            Assert.Equal(solo.Text, string.Concat(results[i].Select(c => c.Text)));
        }
        Assert.Contains(results, chunks => chunks.Any(c => c.TokenIds.Length > 1)); // several tokens per step reach the client
        var status = await Router.GetStatus();
        Assert.True(status.IsSpeculative);
        Assert.True(status.SpecDecodeNumDraftTokens > 0);
        Assert.True(status.SpecDecodeNumAcceptedTokens > 0);
        Assert.InRange(status.SpecDecodeAcceptanceRate, 0.5, 1.0); // the draft is a copy of the target
    }
}
