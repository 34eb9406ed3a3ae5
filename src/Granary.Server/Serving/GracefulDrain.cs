using Granary.Server.Api.Limits;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Granary.Server.Serving;

/// <summary>
/// What SIGTERM does before the silo and Kestrel stop: readiness turns 503 and new generation requests are
/// refused (503, retryable), while those in flight run to their end for up to the grace period. Registered
/// after the silo, so the host stops it first (hosted services stop in reverse order).
/// </summary>
public sealed class GracefulDrain(DrainState drain, Readiness readiness, TimeSpan grace, ILogger<GracefulDrain> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.MarkDraining();
        int inFlight = drain.NumInFlight;
        logger.LogInformation("Draining: {InFlight} requests in flight, up to {Grace} s to finish", inFlight, grace.TotalSeconds);
        bool isIdle = await drain.DrainAsync(grace, CancellationToken.None);
        if (isIdle) logger.LogInformation("Drained: no request in flight");
        else logger.LogWarning("Grace period over with {InFlight} requests still in flight; stopping anyway", drain.NumInFlight);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
