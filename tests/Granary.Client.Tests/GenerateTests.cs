using Granary.Client.Tests.Support;
using Granary.Grpc.V1;
using Granary.Model.Synthesis;
using Granary.TestKit;
using Grpc.Core;

namespace Granary.Client.Tests;

/// <summary>The raw gRPC calls against a real server: streams, exactness, errors, cancellation.</summary>
[Collection(ServerCollection.Name)]
public sealed class GenerateTests(ServerFixture fixture)
{
    static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);
    const string Prompt = "Once upon a time";

    [Fact]
    public async Task GreedyGenerate_GivesTheTokensOfTheCli()
    {
        using var client = fixture.NewClient();
        var chunks = await Collect(client.GenerateStreamingAsync(ServerFixture.ModelName, Prompt, Greedy(maxTokens: 12)));

        var cli = GranaryExecutable.RunJson(CallTimeout,
            "generate", "--model", fixture.Model.Path, "--prompt", Prompt, "--temperature", "0", "--max-tokens", "12", "--json");
        int[] cliTokens = cli.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.NotEmpty(cliTokens);
        Assert.Equal(cliTokens, chunks.SelectMany(c => c.TokenIds).ToArray());
        Assert.Equal(cli.GetProperty("text").GetString(), string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal(cli.GetProperty("finish_reason").GetString(), chunks[^1].FinishReason == FinishReason.Length ? "length" : "stop");
    }

    [Fact]
    public async Task TokenIdPrompt_StreamsToMaxTokens_WithUsageOnTheLastChunk()
    {
        using var client = fixture.NewClient();
        var request = new GenerateRequest
        {
            Model = ServerFixture.ModelName,
            PromptTokenIds = { 5, 6, 7 },
            Sampling = new SamplingParams { MaxTokens = 5, Temperature = 0.8, Seed = 7, IgnoreEos = true },
        };
        var chunks = await Collect(client.GenerateStreamingAsync(request));

        Assert.Equal(5, chunks.Sum(c => c.TokenIds.Count));
        Assert.All(chunks[..^1], c => Assert.Equal(FinishReason.Unspecified, c.FinishReason));
        Assert.All(chunks[..^1], c => Assert.Null(c.Usage));
        Assert.Equal(FinishReason.Length, chunks[^1].FinishReason);
        Assert.Equal(new Usage { PromptTokens = 3, CompletionTokens = 5, TotalTokens = 8 }, chunks[^1].Usage);

        // Same seed, same tokens.
        var again = await Collect(client.GenerateStreamingAsync(request));
        Assert.Equal(chunks.SelectMany(c => c.TokenIds), again.SelectMany(c => c.TokenIds));
    }

    [Fact]
    public async Task Logprobs_OneEntryPerToken_WithTheAskedAlternatives()
    {
        using var client = fixture.NewClient();
        var sampling = Greedy(maxTokens: 3);
        sampling.Logprobs = 2;
        sampling.IgnoreEos = true;
        var chunks = await Collect(client.GenerateStreamingAsync(ServerFixture.ModelName, Prompt, sampling));

        var logprobs = chunks.SelectMany(c => c.Logprobs).ToList();
        Assert.Equal(chunks.SelectMany(c => c.TokenIds), logprobs.Select(l => l.TokenId));
        Assert.All(logprobs, l =>
        {
            Assert.Equal(2, l.Top.Count);
            Assert.True(l.Logprob <= 0);
            Assert.Equal(l.TokenId, l.Top[0].TokenId); // greedy: the sampled token is the most likely one
        });
    }

    [Fact]
    public async Task ListModels_NamesTheServedModel()
    {
        using var client = fixture.NewClient();
        var models = await client.ListModelsAsync();

        var model = Assert.Single(models);
        Assert.Equal(ServerFixture.ModelName, model.Name);
        Assert.Equal(SynthesizedModelOptions.MaxPositionEmbeddings, model.ContextLength);
        Assert.Equal(SynthesizedModelOptions.VocabSize, model.VocabSize);
        Assert.True(model.Created > 0);
    }

    [Fact]
    public async Task Health_IsLiveAndReady()
    {
        using var client = fixture.NewClient();
        var health = await client.HealthAsync();

        Assert.True(health.Live);
        Assert.True(health.Ready);
        Assert.Equal("ready", health.Status);
    }

    [Theory]
    [InlineData("temperature")]
    [InlineData("top_p")]
    [InlineData("top_k")]
    [InlineData("max_tokens")]
    [InlineData("logprobs")]
    [InlineData("stop")]
    [InlineData("prompt")]
    [InlineData("prompt_token_ids")]
    [InlineData("model")]
    public async Task BadGenerateField_IsInvalidArgumentNamingIt(string field)
    {
        var request = new GenerateRequest { Model = ServerFixture.ModelName, Prompt = Prompt, Sampling = new SamplingParams() };
        switch (field)
        {
            case "temperature": request.Sampling.Temperature = -1; break;
            case "top_p": request.Sampling.TopP = 0; break;
            case "top_k": request.Sampling.TopK = -3; break;
            case "max_tokens": request.Sampling.MaxTokens = 0; break;
            case "logprobs": request.Sampling.Logprobs = 21; break;
            case "stop": request.Sampling.Stop.Add(""); break;
            case "prompt": request.Prompt = ""; break;
            case "prompt_token_ids": request.Prompt = ""; request.PromptTokenIds.Add([1, 100_000]); break;
            case "model": request.Model = ""; break;
        }
        using var client = fixture.NewClient();

        var error = await Assert.ThrowsAsync<RpcException>(() => Collect(client.GenerateStreamingAsync(request)));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }

    [Theory]
    [InlineData("messages")]
    [InlineData("role")]
    public async Task BadChatField_IsInvalidArgumentNamingIt(string field)
    {
        var request = new ChatRequest { Model = ServerFixture.ModelName };
        if (field == "role") request.Messages.Add(new ChatMessage { Role = "robot", Content = "beep" });
        using var client = fixture.NewClient();

        var error = await Assert.ThrowsAsync<RpcException>(() => Collect(client.ChatStreamingAsync(request)));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(field, error.Status.Detail);
    }

    [Fact]
    public async Task UnknownModel_IsNotFound()
    {
        using var client = fixture.NewClient();

        var generate = await Assert.ThrowsAsync<RpcException>(() => Collect(client.GenerateStreamingAsync("no-such-model", Prompt, null)));
        Assert.Equal(StatusCode.NotFound, generate.StatusCode);
        Assert.Contains("no-such-model", generate.Status.Detail);

        var chat = new ChatRequest { Model = "no-such-model", Messages = { new ChatMessage { Role = "user", Content = "Hi" } } };
        var chatError = await Assert.ThrowsAsync<RpcException>(() => Collect(client.ChatStreamingAsync(chat)));
        Assert.Equal(StatusCode.NotFound, chatError.StatusCode);
    }

    [Fact]
    public async Task CancellingALongStream_LeavesTheServerServing()
    {
        using var client = fixture.NewClient();
        var longRequest = Greedy(maxTokens: 100);
        longRequest.IgnoreEos = true;
        using var cancellation = new CancellationTokenSource(CallTimeout);
        int numReceived = 0;

        var cancelled = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var chunk in client.GenerateStreamingAsync(ServerFixture.ModelName, Prompt, longRequest, cancellation.Token))
            {
                if (++numReceived == 2) cancellation.Cancel();
            }
        });
        Assert.True(cancelled is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled }, cancelled.ToString());
        Assert.Equal(2, numReceived);

        // The server is still healthy, and the next request runs to the end.
        Assert.True((await client.HealthAsync()).Ready);
        var next = await Collect(client.GenerateStreamingAsync(ServerFixture.ModelName, Prompt, longRequest));
        Assert.Equal(100, next.Sum(c => c.TokenIds.Count));
        Assert.Equal(FinishReason.Length, next[^1].FinishReason);
        Assert.False(fixture.Server.HasExited);
    }

    [Fact]
    public async Task DefaultDeadline_EndsAStreamThatRunsPastIt()
    {
        using var client = fixture.NewClient(new GranaryClientOptions { DefaultDeadline = TimeSpan.FromMilliseconds(1) });
        var longRequest = Greedy(maxTokens: 100);
        longRequest.IgnoreEos = true;

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            Collect(client.GenerateStreamingAsync(ServerFixture.ModelName, Prompt, longRequest)));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    static SynthesisOptions SynthesizedModelOptions => SynthesizedModelFolder.SmallOptions;

    static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0, MaxTokens = maxTokens };

    static async Task<List<GenerateChunk>> Collect(IAsyncEnumerable<GenerateChunk> stream)
    {
        var chunks = new List<GenerateChunk>();
        await foreach (var chunk in stream) chunks.Add(chunk);
        return chunks;
    }
}
