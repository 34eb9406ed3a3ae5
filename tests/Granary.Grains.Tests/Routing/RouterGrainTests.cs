using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Grains.Routing;

namespace Granary.Grains.Tests.Routing;

/// <summary>The router grain as a cluster client sees it: streamed chunks, refusals, status, early disposal.</summary>
[Collection(RouterClusterCollection.Name)]
public sealed class RouterGrainTests(RouterClusterFixture fixture)
{
    static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);
    static readonly SamplingParams Greedy = new() { Temperature = 0, IgnoreEos = true };

    static readonly string[] Prompts =
    [
        "def fibonacci(n):",
        "The quick brown fox jumps over the lazy dog, and then",
        "x",
        "import os\nimport sys\n\nclass Config:\n    def __init__(self):",
        "Once upon a time",
        "SELECT * FROM users WHERE",
        "1, 2, 3, 4,",
        "Dear team,",
    ];

    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(RouterClusterFixture.ModelName);

    CompletionRequest Request(string prompt, int maxTokens) => new()
    {
        Model = RouterClusterFixture.ModelName,
        PromptTokenIds = fixture.Reference.Tokenizer.Encode(prompt, addBos: true).ToArray(),
        Sampling = Greedy with { MaxTokens = maxTokens },
    };

    GenerationResult Solo(CompletionRequest request) =>
        new BatchGenerator(fixture.Reference.Model, fixture.Reference.Tokenizer)
            .Generate([new GenerationRequest(request.PromptTokenIds, request.Sampling)]).Results[0];

    async Task<List<CompletionChunk>> Collect(CompletionRequest request)
    {
        var chunks = new List<CompletionChunk>();
        using var timeout = new CancellationTokenSource(TestTimeout);
        await foreach (var chunk in Router.Generate(request, timeout.Token))
            chunks.Add(chunk);
        return chunks;
    }

    static int[] Tokens(IEnumerable<CompletionChunk> chunks) => chunks.SelectMany(c => c.TokenIds).ToArray();

    [Fact]
    public async Task Streaming_through_the_cluster_gives_the_single_request_greedy_tokens()
    {
        var request = Request(Prompts[0], maxTokens: 12);
        var solo = Solo(request);

        var chunks = await Collect(request);

        Assert.Equal(solo.TokenIds, Tokens(chunks));
        Assert.Equal(solo.Text, string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal(FinishReason.Length, chunks[^1].FinishReason);
        Assert.Equal(12, chunks[^1].CompletionTokens);
        Assert.Equal(request.PromptTokenIds.Length, chunks[^1].PromptTokens);
        Assert.All(chunks, c => Assert.Null(c.Error));
    }

    [Fact]
    public async Task Eight_concurrent_requests_each_get_their_own_tokens()
    {
        var requests = Prompts.Select((prompt, i) => Request(prompt, maxTokens: 4 + 3 * i)).ToList();
        var solos = requests.Select(Solo).ToList();

        var results = await Task.WhenAll(requests.Select(Collect));

        for (int i = 0; i < requests.Count; i++)
        {
            Assert.Equal(solos[i].TokenIds, Tokens(results[i]));
            Assert.Equal(FinishReason.Length, results[i][^1].FinishReason);
        }
        Assert.True(solos.Select(s => string.Join(",", s.TokenIds.Take(4))).Distinct().Count() > 1, "prompts should not all give the same tokens");
    }

    [Fact]
    public async Task Breaking_out_of_the_stream_early_frees_the_sequence()
    {
        // Ignoring EOS up to the whole context: left alone this request would run for about a thousand steps.
        var request = Request(Prompts[1], maxTokens: RouterClusterFixture.ContextLength);
        int numRead = 0;
        await foreach (var chunk in Router.Generate(request))
        {
            Assert.Null(chunk.FinishReason);
            if (++numRead == 3) break;
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        DeploymentStatus status;
        while ((status = await Router.GetStatus()) is not { NumRunning: 0, NumWaiting: 0, KvTokensReserved: 0 })
        {
            Assert.True(DateTime.UtcNow < deadline, $"the abandoned request still holds the router: {status}");
            await Task.Delay(20);
        }
        // The router keeps serving.
        var next = Request(Prompts[2], maxTokens: 5);
        Assert.Equal(Solo(next).TokenIds, Tokens(await Collect(next)));
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_refused_with_one_invalid_request_chunk()
    {
        var request = Request(Prompts[0], maxTokens: 4) with { PromptTokenIds = Enumerable.Repeat(65, RouterClusterFixture.ContextLength).ToArray() };

        var chunks = await Collect(request);

        var refusal = Assert.Single(chunks);
        Assert.Equal(ServingErrorKind.InvalidRequest, refusal.Error?.Kind);
        Assert.Contains("max_position_embeddings", refusal.Error!.Message);
        Assert.Empty(refusal.TokenIds);
    }

    [Fact]
    public async Task Status_reports_the_model_shape_and_budget()
    {
        var status = await Router.GetStatus();

        Assert.Equal(RouterClusterFixture.ModelName, status.Model);
        Assert.Equal(RouterClusterFixture.ContextLength, status.ContextLength);
        Assert.Equal(fixture.Reference.Config.VocabSize, status.VocabSize);
        Assert.Equal(long.MaxValue, status.KvTokenBudget);
        Assert.False(string.IsNullOrEmpty(status.Host));
    }
}
