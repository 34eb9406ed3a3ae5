using System.Text;
using Granary.Abstractions.Serving;
using Granary.Server.Api.Limits;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Granary.Server.Api.OpenAi;

/// <summary>
/// A streamed response: each chunk as <c>data: {json}\n\n</c>, flushed at once, then <c>data: [DONE]</c>.
/// A failure after the stream opened (the status is already 200) is sent as a <c>data: {"error": ...}</c>
/// event before [DONE]; so is the server's request timeout (<paramref name="deadline"/>). When the client
/// disconnects or the deadline passes, the run is disposed, which frees the sequence.
/// </summary>
public sealed class ServerSentEventsResult(GenerationRun run, IResponseShape shape, bool includeUsage, RequestDeadline? deadline = null) : IResult
{
    static readonly byte[] Done = Encoding.UTF8.GetBytes("data: [DONE]\n\n");

    public async Task ExecuteAsync(HttpContext http)
    {
        var clientGone = http.RequestAborted;
        var cancellationToken = deadline?.Token ?? clientGone;
        await using var _ = run;
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // proxies: pass events through as they come
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        try
        {
            try
            {
                await WriteEventsAsync(response, cancellationToken, clientGone);
            }
            catch (OperationCanceledException) when (deadline is { IsExpired: true })
            {
                await WriteAsync(response, OpenAiError.Timeout(deadline.Message).ToBody(), clientGone);
            }
            await response.Body.WriteAsync(Done, clientGone);
            await response.Body.FlushAsync(clientGone);
        }
        catch (OperationCanceledException) when (clientGone.IsCancellationRequested)
        {
            // The client left; disposing the run stops the sequence.
        }
    }

    // Waiting for the run honours the deadline; writes wait only on the client, so a deadline that passes in
    // the middle of a write never leaves half an event (the next wait on the run ends the stream with its error).
    async Task WriteEventsAsync(HttpResponse response, CancellationToken cancellationToken, CancellationToken clientGone)
    {
        if (shape.Opening() is { } opening) await WriteAsync(response, opening, clientGone);
        int textOffset = 0;
        UsageBody? usage = null;
        await foreach (var chunk in run.ReadAllAsync(cancellationToken))
        {
            if (chunk.Error is { } error)
            {
                await WriteAsync(response, OpenAiError.FromServing(error).ToBody(), clientGone);
                return;
            }
            if (shape.Chunk(chunk, textOffset) is { } data) await WriteAsync(response, data, clientGone);
            textOffset += chunk.Text.Length;
            usage = UsageBody.Of(chunk.PromptTokens, chunk.CompletionTokens);
        }
        if (includeUsage && usage is not null) await WriteAsync(response, shape.UsageChunk(usage), clientGone);
    }

    static async Task WriteAsync(HttpResponse response, object data, CancellationToken cancellationToken)
    {
        await response.WriteAsync($"data: {OpenAiJson.Serialize(data)}\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
