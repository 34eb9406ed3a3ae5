namespace Granary.Server.Hosting;

/// <summary>
/// Per-request and per-key limits of the HTTP and gRPC APIs, bound from <c>Granary:Limits</c>. Each one a
/// request breaks is named, with its value, in the error the client gets.
/// </summary>
public sealed class RequestLimitsOptions
{
    public const string Section = "Limits";

    /// <summary>Most prompt tokens (after the chat template) a request may send; none: the model's context length.</summary>
    public int? MaxPromptTokens { get; set; }

    /// <summary>
    /// Most tokens one request may ask to generate; none: up to the rest of the context. A request asking for
    /// more is refused (400); one that names no limit gets this one.
    /// </summary>
    public int? MaxGeneratedTokens { get; set; }

    /// <summary>Largest HTTP request body (413 above it) and gRPC request message (ResourceExhausted).</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Most generation requests one API key (tenant) may have running at once; 0: no limit. 429 above it.</summary>
    public int MaxConcurrentRequestsPerKey { get; set; }

    /// <summary>Most generation requests one API key (tenant) may start per minute; 0: no limit. 429 with Retry-After above it.</summary>
    public int RequestsPerMinutePerKey { get; set; }

    /// <summary>
    /// Longest a request may take from arrival to its last token, in seconds; 0: no limit. An expired request
    /// is stopped on the router (its KV freed) and answered 504, or ends its stream with an error event.
    /// </summary>
    public double RequestTimeoutSeconds { get; set; } = 600;

    /// <summary>Returns the first problem, naming the setting, or null.</summary>
    public string? Validate()
    {
        const string prefix = "Granary:Limits:";
        if (MaxPromptTokens is < 1) return $"{prefix}MaxPromptTokens must be >= 1 (got {MaxPromptTokens})";
        if (MaxGeneratedTokens is < 1) return $"{prefix}MaxGeneratedTokens must be >= 1 (got {MaxGeneratedTokens})";
        if (MaxRequestBodyBytes < 1024) return $"{prefix}MaxRequestBodyBytes must be >= 1024 (got {MaxRequestBodyBytes})";
        if (MaxRequestBodyBytes > int.MaxValue) return $"{prefix}MaxRequestBodyBytes must be <= {int.MaxValue} (got {MaxRequestBodyBytes})";
        if (MaxConcurrentRequestsPerKey < 0) return $"{prefix}MaxConcurrentRequestsPerKey must be >= 0 (got {MaxConcurrentRequestsPerKey})";
        if (RequestsPerMinutePerKey < 0) return $"{prefix}RequestsPerMinutePerKey must be >= 0 (got {RequestsPerMinutePerKey})";
        if (!(RequestTimeoutSeconds >= 0)) return $"{prefix}RequestTimeoutSeconds must be >= 0 (got {RequestTimeoutSeconds})";
        return null;
    }
}
