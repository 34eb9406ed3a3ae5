namespace Granary.Client;

/// <summary>How a <see cref="GranaryClient"/> talks to the server.</summary>
public sealed class GranaryClientOptions
{
    /// <summary>Sent as <c>authorization: Bearer KEY</c> on every call; needed when the server has API keys configured.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Deadline of each call, counted from its start (for a stream: until its last chunk). Null, the default:
    /// none. A call past its deadline fails with <c>DeadlineExceeded</c> and is cancelled on the server.
    /// </summary>
    public TimeSpan? DefaultDeadline { get; set; }

    /// <summary>
    /// Most attempts of the calls that are safe to repeat (ListModels, Health) when the server is
    /// unavailable, the first included; 1 disables retries. Generate and Chat are never retried: a
    /// repeated sampling call would cost a second generation. Default 4.
    /// </summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>Wait before the first retry; each later one waits twice as long (with jitter, at most 5 s). Default 200 ms.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The HTTP handler under the channel (a proxy, custom TLS, a test server); null: the default one.</summary>
    public HttpMessageHandler? HttpHandler { get; set; }
}
