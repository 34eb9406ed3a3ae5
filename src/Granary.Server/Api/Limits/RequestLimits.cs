using Granary.Server.Hosting;

namespace Granary.Server.Api.Limits;

/// <summary>
/// The token limits every API applies to a request before it reaches a deployment (HTTP and gRPC share
/// them). A broken limit is an <see cref="LimitExceeded"/> naming the setting and its value; each API turns
/// it into its own error (a 400 OpenAI body, an InvalidArgument status).
/// </summary>
public sealed class RequestLimits(RequestLimitsOptions options)
{
    /// <summary>No configured limits (the defaults of <see cref="RequestLimitsOptions"/>).</summary>
    public static RequestLimits Default { get; } = new(new RequestLimitsOptions());

    public RequestLimitsOptions Options { get; } = options;

    /// <summary>Null when the prompt fits; else why not.</summary>
    public LimitExceeded? CheckPrompt(int numPromptTokens) =>
        Options.MaxPromptTokens is { } max && numPromptTokens > max
            ? new LimitExceeded($"The prompt has {numPromptTokens} tokens, more than this server accepts ({max}, Granary:Limits:MaxPromptTokens); shorten it",
                "prompt_too_long")
            : null;

    /// <summary>Null when a requested max_tokens is allowed; else why not.</summary>
    public LimitExceeded? CheckMaxTokens(int requested) =>
        Options.MaxGeneratedTokens is { } max && requested > max
            ? new LimitExceeded($"{requested} tokens were asked for, more than this server generates per request ({max}, Granary:Limits:MaxGeneratedTokens)",
                "max_tokens_exceeded")
            : null;

    /// <summary>The limit a request that named none gets: the endpoint's own default, capped by the server's.</summary>
    public int DefaultMaxTokens(int endpointDefault) =>
        Options.MaxGeneratedTokens is { } max ? Math.Min(max, endpointDefault) : endpointDefault;

    /// <summary>The request timeout; null when there is none.</summary>
    public TimeSpan? Timeout => Options.RequestTimeoutSeconds > 0 ? TimeSpan.FromSeconds(Options.RequestTimeoutSeconds) : null;
}

/// <summary>A limit a request broke: the message names the setting and its value; <see cref="Code"/> is machine-readable.</summary>
public sealed record LimitExceeded(string Message, string Code);
