using System.Threading.RateLimiting;
using Granary.Server.Hosting;

namespace Granary.Server.Api.Limits;

/// <summary>
/// Decides whether a generation request may start, for HTTP and gRPC alike: not while the server drains,
/// not beyond its key's (tenant's) concurrent requests, not beyond its key's requests per minute. An admitted
/// request holds an <see cref="Admission"/> until its response is complete; that is also what the drain waits for.
/// Without API keys every caller is the one anonymous tenant.
/// </summary>
public sealed class TenantAdmission : IDisposable
{
    const string AnonymousTenant = "";

    readonly RequestLimitsOptions _options;
    readonly DrainState _drain;
    readonly PartitionedRateLimiter<string>? _concurrency;
    readonly PartitionedRateLimiter<string>? _rate;

    public TenantAdmission(RequestLimitsOptions options, DrainState drain)
    {
        _options = options;
        _drain = drain;
        if (options.MaxConcurrentRequestsPerKey > 0)
            _concurrency = PartitionedRateLimiter.Create<string, string>(tenant => RateLimitPartition.GetConcurrencyLimiter(tenant,
                _ => new ConcurrencyLimiterOptions { PermitLimit = options.MaxConcurrentRequestsPerKey, QueueLimit = 0 }));
        if (options.RequestsPerMinutePerKey > 0)
            _rate = PartitionedRateLimiter.Create<string, string>(tenant => RateLimitPartition.GetFixedWindowLimiter(tenant,
                _ => new FixedWindowRateLimiterOptions { PermitLimit = options.RequestsPerMinutePerKey, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
    }

    /// <summary>Admits the request, or says why not. Dispose the admission when the response is complete.</summary>
    public AdmissionResult TryAdmit(string? tenant)
    {
        if (!_drain.TryEnter()) return AdmissionResult.Refused(AdmissionRefusal.Draining(_drain.Reason));
        tenant ??= AnonymousTenant;
        RateLimitLease? concurrent = null;
        if (_concurrency is not null)
        {
            concurrent = _concurrency.AttemptAcquire(tenant);
            if (!concurrent.IsAcquired)
            {
                concurrent.Dispose();
                _drain.Leave();
                return AdmissionResult.Refused(AdmissionRefusal.TooMany(
                    $"This API key already has {_options.MaxConcurrentRequestsPerKey} requests running, its limit (Granary:Limits:MaxConcurrentRequestsPerKey); retry when one has finished",
                    "too_many_concurrent_requests", retryAfterSeconds: 1));
            }
        }
        if (_rate is not null)
        {
            using var lease = _rate.AttemptAcquire(tenant);
            if (!lease.IsAcquired)
            {
                concurrent?.Dispose();
                _drain.Leave();
                int retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                return AdmissionResult.Refused(AdmissionRefusal.TooMany(
                    $"This API key has started {_options.RequestsPerMinutePerKey} requests in the last minute, its limit (Granary:Limits:RequestsPerMinutePerKey); retry in {retryAfter} s",
                    "rate_limit_exceeded", retryAfter));
            }
        }
        return AdmissionResult.Admitted(new Admission(concurrent, _drain));
    }

    public void Dispose()
    {
        _concurrency?.Dispose();
        _rate?.Dispose();
    }
}

/// <summary>An admitted request's hold on its key's concurrency and on the drain; dispose it once, when the response is complete.</summary>
public sealed class Admission(RateLimitLease? concurrent, DrainState drain) : IDisposable
{
    int _isDisposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _isDisposed, 1) == 1) return;
        concurrent?.Dispose();
        drain.Leave();
    }
}

/// <summary>Either an <see cref="Admission"/> or the reason a request may not start.</summary>
public readonly record struct AdmissionResult(Admission? Admission, AdmissionRefusal? Refusal)
{
    public static AdmissionResult Admitted(Admission admission) => new(admission, null);

    public static AdmissionResult Refused(AdmissionRefusal refusal) => new(null, refusal);
}

/// <summary>Why a request was not admitted: too many for its key (429, retry after a while), or the server drains (503).</summary>
public sealed record AdmissionRefusal(bool IsDraining, string Message, string Code, int RetryAfterSeconds)
{
    public static AdmissionRefusal TooMany(string message, string code, int retryAfterSeconds) => new(false, message, code, retryAfterSeconds);

    public static AdmissionRefusal Draining(string reason) => new(true, reason, "server_shutting_down", 1);
}
