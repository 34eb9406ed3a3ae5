namespace Granary.Abstractions.Serving;

/// <summary>Why a deployment refused or failed a request; the API maps the kind to an HTTP / gRPC status.</summary>
public sealed record ServingError(ServingErrorKind Kind, string Message);

public enum ServingErrorKind
{
    /// <summary>The request itself is wrong (too long, bad token ids, bad sampling values): 400.</summary>
    InvalidRequest,

    /// <summary>The waiting queue is full: 429, retry later.</summary>
    QueueFull,

    /// <summary>The deployment is loading or shutting down: 503, retry later.</summary>
    Unavailable,

    /// <summary>The deployment failed while running the request: 500; the request may be retried.</summary>
    Internal,
}
