namespace Granary.Server.Api.Limits;

/// <summary>
/// A request's server-side time limit: a token that is cancelled when the client leaves or the limit
/// (Granary:Limits:RequestTimeoutSeconds) passes, whichever comes first. Everything the request waits on
/// (its body, the router's stream) waits on <see cref="Token"/>; <see cref="IsExpired"/> tells the two causes apart.
/// </summary>
public sealed class RequestDeadline : IDisposable
{
    readonly CancellationTokenSource _source;
    readonly CancellationToken _clientGone;

    public RequestDeadline(TimeSpan? timeout, CancellationToken clientGone)
    {
        _clientGone = clientGone;
        Timeout = timeout;
        _source = CancellationTokenSource.CreateLinkedTokenSource(clientGone);
        if (timeout is { } limit) _source.CancelAfter(limit);
    }

    public TimeSpan? Timeout { get; }

    public CancellationToken Token => _source.Token;

    /// <summary>True when the time limit (not the client) ended the request.</summary>
    public bool IsExpired => _source.IsCancellationRequested && !_clientGone.IsCancellationRequested;

    /// <summary>What the client is told when the limit passed.</summary>
    public string Message => $"The request did not finish within {Timeout?.TotalSeconds:0.###} s (Granary:Limits:RequestTimeoutSeconds); it was stopped";

    public void Dispose() => _source.Dispose();
}
