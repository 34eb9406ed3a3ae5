using System.Runtime.CompilerServices;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Server.Serving;

namespace Granary.Server.Tests.Reliability;

/// <summary>
/// Failover logic without a cluster: a fake router that fails part-way; the resumed request replays the
/// prompt plus what was streamed, asks only for the rest, and the caller sees one gap-free stream.
/// </summary>
public sealed class ResumableGenerationTests
{
    static readonly ResumeOptions Fast = new() { RetryDelay = TimeSpan.Zero, MaxAttempts = 5 };

    /// <summary>Token t of the undisturbed run is 100 + t (t counted over prompt and output), its text "t{id} ".</summary>
    sealed class FlakyRouter(params int[] failAfterTokens)
    {
        int _attempt;

        public List<CompletionRequest> Received { get; } = [];

        public bool Throws { get; init; }

        public async IAsyncEnumerable<CompletionChunk> Send(CompletionRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            Received.Add(request);
            int failAfter = _attempt < failAfterTokens.Length ? failAfterTokens[_attempt] : int.MaxValue;
            _attempt++;
            for (int i = 0; i < request.Sampling.MaxTokens; i++)
            {
                if (i == failAfter)
                {
                    if (Throws) throw new TimeoutException("the router's silo is gone");
                    yield return CompletionChunk.Failed(ServingErrorKind.Unavailable, "a shard is unreachable; retry the request");
                    yield break;
                }
                int id = 100 + request.PromptTokenIds.Length + i;
                bool isLast = i == request.Sampling.MaxTokens - 1;
                yield return new CompletionChunk
                {
                    TokenIds = [id],
                    Text = $"t{id} ",
                    FinishReason = isLast ? FinishReason.Length : null,
                    PromptTokens = request.PromptTokenIds.Length,
                    CompletionTokens = i + 1,
                };
            }
        }
    }

    static CompletionRequest Request(int maxTokens, params string[] stop) => new()
    {
        Model = "tiny",
        PromptTokenIds = [1, 2, 3],
        Sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, Stop = stop },
    };

    static async Task<List<CompletionChunk>> RunAsync(FlakyRouter router, CompletionRequest request)
    {
        var resumable = new ResumableGeneration(router.Send, (_, _) => Task.CompletedTask, tokenizer: null, Fast);
        var chunks = new List<CompletionChunk>();
        await foreach (var chunk in resumable.RunAsync(request, CancellationToken.None)) chunks.Add(chunk);
        return chunks;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AFailureMidStream_IsResumedWithPromptPlusStreamedTokens(bool throws)
    {
        var router = new FlakyRouter(4, 3) { Throws = throws };
        var chunks = await RunAsync(router, Request(maxTokens: 10));

        Assert.Equal(Enumerable.Range(103, 10), chunks.SelectMany(c => c.TokenIds)); // as one undisturbed run: none twice, none missing
        Assert.All(chunks, c => Assert.Null(c.Error));
        Assert.Equal(string.Concat(Enumerable.Range(103, 10).Select(id => $"t{id} ")), string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal(FinishReason.Length, chunks[^1].FinishReason);
        Assert.Equal(3, chunks[^1].PromptTokens);
        Assert.Equal(10, chunks[^1].CompletionTokens);

        Assert.Equal(3, router.Received.Count);
        Assert.Equal([1, 2, 3, 103, 104, 105, 106], router.Received[1].PromptTokenIds);
        Assert.Equal(6, router.Received[1].Sampling.MaxTokens);
        Assert.Equal([1, 2, 3, 103, 104, 105, 106, 107, 108, 109], router.Received[2].PromptTokenIds);
        Assert.Equal(3, router.Received[2].Sampling.MaxTokens);
        Assert.Equal(0, router.Received[2].Sampling.Temperature);
    }

    [Fact]
    public async Task ARefusalBeforeTheFirstToken_IsRetried()
    {
        var router = new FlakyRouter(0);
        var chunks = await RunAsync(router, Request(maxTokens: 3));
        Assert.Equal([103, 104, 105], chunks.SelectMany(c => c.TokenIds));
        Assert.Equal(2, router.Received.Count);
        Assert.Equal([1, 2, 3], router.Received[1].PromptTokenIds);
    }

    [Fact]
    public async Task ADeploymentThatStaysDown_FailsAfterItsAttempts()
    {
        var router = new FlakyRouter(1, 0, 0, 0, 0, 0, 0);
        var chunks = await RunAsync(router, Request(maxTokens: 5));
        Assert.Equal([103], chunks[0].TokenIds);
        Assert.Equal(ServingErrorKind.Unavailable, chunks[^1].Error?.Kind);
        Assert.Contains("5 attempt(s)", chunks[^1].Error!.Message);
        Assert.Equal(Fast.MaxAttempts, router.Received.Count);
    }

    [Fact]
    public void FailoverWaitSeconds_SetsTheWait_AndZeroTurnsResumingOff()
    {
        Assert.Equal(TimeSpan.FromSeconds(120), new Granary.Server.Hosting.GranaryServerOptions().ToResumeOptions().MaxWait);
        Assert.Equal(TimeSpan.FromSeconds(30), new Granary.Server.Hosting.GranaryServerOptions { FailoverWaitSeconds = 30 }.ToResumeOptions().MaxWait);
        Assert.Equal(1, new Granary.Server.Hosting.GranaryServerOptions { FailoverWaitSeconds = 0 }.ToResumeOptions().MaxAttempts);
        Assert.Contains("Granary:FailoverWaitSeconds", new Granary.Server.Hosting.GranaryServerOptions { FailoverWaitSeconds = -1 }.Validate());
    }

    [Fact]
    public async Task WithResumingOff_TheFailureReachesTheCaller()
    {
        var router = new FlakyRouter(2);
        var resumable = new ResumableGeneration(router.Send, (_, _) => Task.CompletedTask, tokenizer: null, new ResumeOptions { MaxAttempts = 1 });
        var chunks = new List<CompletionChunk>();
        await foreach (var chunk in resumable.RunAsync(Request(maxTokens: 5), CancellationToken.None)) chunks.Add(chunk);
        Assert.Equal([103, 104], chunks.SelectMany(c => c.TokenIds));
        Assert.Equal(ServingErrorKind.Unavailable, chunks[^1].Error?.Kind);
        Assert.Single(router.Received);
    }

    [Fact]
    public async Task StopStrings_AreNotResumed()
    {
        var router = new FlakyRouter(2);
        var chunks = await RunAsync(router, Request(10, "END"));
        Assert.Equal(ServingErrorKind.Unavailable, chunks[^1].Error?.Kind);
        Assert.Single(router.Received);
    }
}
