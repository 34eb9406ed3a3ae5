namespace Granary.Abstractions.Serving;

/// <summary>
/// One step's output for one request, streamed back as it is produced: the token(s) sampled, the text they
/// made safe to emit (possibly empty while a multi-byte character is incomplete), and on the last chunk the
/// finish reason. <see cref="Error"/> is set, and nothing else, when the request was refused or failed.
/// </summary>
public sealed record CompletionChunk
{
    public int[] TokenIds { get; init; } = [];

    public string Text { get; init; } = "";

    /// <summary>One entry per token in <see cref="TokenIds"/> when the request asked for log-probabilities.</summary>
    public TokenLogprob[]? Logprobs { get; init; }

    /// <summary>Set on the request's last chunk.</summary>
    public FinishReason? FinishReason { get; init; }

    public int PromptTokens { get; init; }

    /// <summary>Tokens generated so far, this chunk's included.</summary>
    public int CompletionTokens { get; init; }

    public ServingError? Error { get; init; }

    /// <summary>
    /// On the request's first chunk only: seconds it waited in the router's queue before the scheduler admitted it
    /// (vLLM's <c>request_queue_time</c>), for metrics.
    /// </summary>
    public double? QueueTimeSeconds { get; init; }

    public bool IsLast => FinishReason is not null || Error is not null;

    public static CompletionChunk Failed(ServingErrorKind kind, string message) => new() { Error = new ServingError(kind, message) };
}

/// <summary>A sampled token's log-probability and the most likely alternatives at its position.</summary>
public sealed record TokenLogprob(int TokenId, string Token, float Logprob, TopLogprob[] Top);

public sealed record TopLogprob(int TokenId, string Token, float Logprob);
