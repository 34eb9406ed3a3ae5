using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Server.Api.OpenAi;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Tests.Api;

/// <summary>
/// How chunks from a router become a response, without a cluster: refusals before the stream opens, and
/// failures after it did (which only a dying router produces, so they are staged here).
/// </summary>
public sealed class GenerationStreamTests
{
    static CompletionChunk Token(int id, string text, int count, FinishReason? finish = null) =>
        new() { TokenIds = [id], Text = text, PromptTokens = 3, CompletionTokens = count, FinishReason = finish };

    static async IAsyncEnumerable<CompletionChunk> Chunks(IEnumerable<CompletionChunk> chunks, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var chunk in chunks)
        {
            await Task.Yield();
            yield return chunk;
        }
    }

    static async IAsyncEnumerable<CompletionChunk> ThrowsAfter(CompletionChunk[] chunks, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var chunk in chunks)
        {
            await Task.Yield();
            yield return chunk;
        }
        throw new TimeoutException("silo S1 did not answer");
    }

    static async Task<IReadOnlyList<string>> StreamAsync(IAsyncEnumerable<CompletionChunk> chunks, bool includeUsage)
    {
        var (run, refusal) = await GenerationRun.StartAsync(chunks, "tiny", CancellationToken.None);
        Assert.Null(refusal);
        var http = new DefaultHttpContext();
        var body = new MemoryStream();
        http.Response.Body = body;
        var shape = new CompletionShape(ResponseIdentity.New("cmpl", "tiny", tokensAsIds: false));

        await new ServerSentEventsResult(run!, shape, includeUsage).ExecuteAsync(http);

        Assert.Equal(StatusCodes.Status200OK, http.Response.StatusCode);
        Assert.StartsWith("text/event-stream", http.Response.ContentType);
        return OpenAiHttp.ParseEvents(Encoding.UTF8.GetString(body.ToArray()));
    }

    [Fact]
    public async Task ErrorChunkMidStream_IsSentAsAnErrorEventThenDone()
    {
        var events = await StreamAsync(Chunks(
        [
            Token(10, "Hel", 1),
            Token(11, "lo", 2),
            CompletionChunk.Failed(ServingErrorKind.Unavailable, "the deployment shut down before the request finished; retry it"),
        ]), includeUsage: true);

        Assert.Equal(4, events.Count);
        Assert.Equal("Hel", JsonDocument.Parse(events[0]).RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("lo", JsonDocument.Parse(events[1]).RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        var error = JsonDocument.Parse(events[2]).RootElement.GetProperty("error");
        Assert.Equal("service_unavailable", error.GetProperty("type").GetString());
        Assert.Contains("shut down", error.GetProperty("message").GetString());
        Assert.Equal("[DONE]", events[3]); // and no usage event after a failure
    }

    [Fact]
    public async Task RouterLostMidStream_IsSentAsAnErrorEventThenDone()
    {
        var events = await StreamAsync(ThrowsAfter([Token(10, "Hel", 1)]), includeUsage: false);

        Assert.Equal(3, events.Count);
        var error = JsonDocument.Parse(events[1]).RootElement.GetProperty("error");
        Assert.Equal("deployment_unavailable", error.GetProperty("code").GetString());
        Assert.DoesNotContain("   at ", error.GetProperty("message").GetString());
        Assert.Equal("[DONE]", events[2]);
    }

    [Fact]
    public async Task FinishedStream_EndsWithUsageThenDone()
    {
        var events = await StreamAsync(Chunks([Token(10, "Hel", 1), Token(11, "lo", 2, FinishReason.Length)]), includeUsage: true);

        Assert.Equal(4, events.Count);
        Assert.Equal("length", JsonDocument.Parse(events[1]).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var usage = JsonDocument.Parse(events[2]).RootElement.GetProperty("usage");
        Assert.Equal(3, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(2, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal("[DONE]", events[3]);
    }

    [Theory]
    [InlineData(ServingErrorKind.InvalidRequest, 400, "invalid_request_error")]
    [InlineData(ServingErrorKind.QueueFull, 429, "rate_limit_error")]
    [InlineData(ServingErrorKind.Unavailable, 503, "service_unavailable")]
    [InlineData(ServingErrorKind.Internal, 500, "server_error")]
    public async Task RefusalAsFirstChunk_IsAnErrorBeforeTheStreamOpens(ServingErrorKind kind, int status, string type)
    {
        var (run, refusal) = await GenerationRun.StartAsync(Chunks([CompletionChunk.Failed(kind, "no")]), "tiny", CancellationToken.None);

        Assert.Null(run);
        Assert.Equal(status, refusal!.Status);
        Assert.Equal(type, refusal.Type);
    }

    [Fact]
    public async Task RouterUnreachable_IsA503()
    {
        var (run, refusal) = await GenerationRun.StartAsync(ThrowsAfter([]), "tiny", CancellationToken.None);

        Assert.Null(run);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, refusal!.Status);
        Assert.Contains("tiny", refusal.Message);
    }
}
