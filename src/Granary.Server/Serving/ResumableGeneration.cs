using System.Runtime.CompilerServices;
using Granary.Abstractions.Serving;
using Granary.Model.Tokenization;

namespace Granary.Server.Serving;

/// <summary>
/// Mid-stream failover, kept where the client's connection is: this process remembers the tokens a request
/// has already streamed, and when the deployment reports the retryable "unavailable" failure (a shard's or
/// the router's silo died, the shards are being placed again) it waits for the deployment to be ready and
/// submits prompt ⊕ streamed tokens with the rest of the token budget and the same sampling, then carries on
/// streaming: the client sees one stream with no token twice and none missing. Greedy decoding continues
/// exactly (the prefill of the replayed tokens rebuilds the same KV); a seeded sampler restarts its random
/// stream at the resume point, so a sampled continuation differs from an undisturbed run.
/// </summary>
public sealed class ResumableGeneration(
    Func<CompletionRequest, CancellationToken, IAsyncEnumerable<CompletionChunk>> send,
    Func<string, CancellationToken, Task> waitUntilReady,
    TextTokenizer? tokenizer,
    ResumeOptions options)
{
    public async IAsyncEnumerable<CompletionChunk> RunAsync(CompletionRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var streamed = new List<int>();
        // Text after a resume is decoded here from every token so far, so that a multi-byte character or a
        // word split over the resume point reads as in one run; before any resume the router's text is used as is.
        var decoder = tokenizer?.CreateIncrementalDecoder(skipSpecialTokens: true);
        bool hasResumed = false;
        var deadline = DateTime.UtcNow + options.MaxWait;
        for (int attempt = 0; ; attempt++)
        {
            var current = attempt == 0 ? request : Resumed(request, streamed);
            string? failure = null;
            await using (var chunks = send(current, cancellationToken).GetAsyncEnumerator(cancellationToken))
            {
                while (true)
                {
                    CompletionChunk chunk;
                    try
                    {
                        if (!await chunks.MoveNextAsync()) break;
                        chunk = chunks.Current;
                    }
                    catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsUnreachable(e))
                    {
                        failure = e.Message;
                        break;
                    }
                    if (chunk.Error is { Kind: ServingErrorKind.Unavailable } error && CanResume(request))
                    {
                        failure = error.Message;
                        break;
                    }
                    var placed = Place(chunk, request, streamed.Count, decoder, hasResumed);
                    streamed.AddRange(chunk.TokenIds);
                    yield return placed;
                    if (chunk.IsLast || chunk.Error is not null) yield break;
                }
            }
            if (failure is null) yield break; // the stream ended without a last chunk: the API reports it as before
            if (attempt + 1 >= options.MaxAttempts || DateTime.UtcNow >= deadline)
            {
                yield return CompletionChunk.Failed(ServingErrorKind.Unavailable,
                    $"the deployment `{request.Model}` stayed unavailable after {attempt + 1} attempt(s): {failure}");
                yield break;
            }
            hasResumed |= streamed.Count > 0;
            await WaitBeforeRetryAsync(request.Model, deadline, cancellationToken);
        }
    }

    /// <summary>Only what can be replayed exactly-enough: stop strings are matched on text the router never saw again.</summary>
    static bool CanResume(CompletionRequest request) => request.Sampling.Stop.Count == 0;

    static CompletionRequest Resumed(CompletionRequest request, List<int> streamed) => request with
    {
        PromptTokenIds = [.. request.PromptTokenIds, .. streamed],
        Sampling = request.Sampling with { MaxTokens = request.Sampling.MaxTokens - streamed.Count },
    };

    /// <summary>A chunk of a resumed run as the original request would have reported it.</summary>
    static CompletionChunk Place(CompletionChunk chunk, CompletionRequest request, int numStreamed, IncrementalDecoder? decoder, bool hasResumed)
    {
        string text = chunk.Text;
        if (decoder is not null)
        {
            string decoded = string.Concat(chunk.TokenIds.Select(decoder.Push));
            if (chunk.IsLast) decoded += decoder.Flush();
            if (hasResumed) text = decoded;
        }
        if (!hasResumed) return chunk;
        return chunk with
        {
            Text = text,
            PromptTokens = request.PromptTokenIds.Length,
            CompletionTokens = numStreamed + chunk.TokenIds.Length,
        };
    }

    async Task WaitBeforeRetryAsync(string model, DateTime deadline, CancellationToken cancellationToken)
    {
        await Task.Delay(options.RetryDelay, cancellationToken);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var left = deadline - DateTime.UtcNow;
        bounded.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        try
        {
            await waitUntilReady(model, bounded.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Out of time: the next attempt reports the failure.
        }
    }

    // Orleans' ways of saying a silo (the router's, or one a call went through) is gone; anything else is a real error.
    static readonly HashSet<string> UnreachableTypes =
    [
        "SiloUnavailableException", "OrleansMessageRejectionException", "ConnectionFailedException", "ConnectionAbortedException",
        "GatewayTooBusyException", "TimeoutException", "ModelUnavailableException", "ShardUnavailableException",
        "EnumerationAbortedException", // the router deactivated mid-stream (its silo is shutting down)
    ];

    static bool IsUnreachable(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (UnreachableTypes.Contains(inner.GetType().Name)) return true;
        return false;
    }
}

/// <summary>How long and how often a request waits for its deployment to come back before it fails.</summary>
public sealed record ResumeOptions
{
    public int MaxAttempts { get; init; } = 30;

    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(120);

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
}
