using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Granary.Server.Serving;

/// <summary>Whether this process can serve: true once every deployment's router has loaded its model.</summary>
public sealed class Readiness
{
    volatile bool _isReady;

    public bool IsReady => _isReady;

    public string Status { get; private set; } = "loading";

    volatile bool _isDraining;

    internal void MarkReady()
    {
        if (_isDraining) return;
        Status = "ready";
        _isReady = true;
    }

    internal void MarkFailed(string problem)
    {
        if (!_isDraining) Status = problem;
    }

    /// <summary>Shutting down: not ready from now on, whatever the warm-up says later (load balancers stop sending).</summary>
    internal void MarkDraining()
    {
        _isDraining = true;
        _isReady = false;
        Status = "draining";
    }
}

/// <summary>
/// After the host starts, touches every deployment's router so the model loads before the first request,
/// retrying while the cluster forms; then marks the process ready (GET /health/ready).
/// </summary>
public sealed class DeploymentWarmup(ModelGateway gateway, Readiness readiness, IHostApplicationLifetime lifetime,
    ILogger<DeploymentWarmup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Grain calls made before the silo has joined its cluster fail placement: wait for the host to be up.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled()))
        {
            try
            {
                await started.Task;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        foreach (var model in gateway.Models)
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    var status = await gateway.GetStatus(model.Name);
                    if (status.IsLoading)
                    {
                        attempt = 0; // loading is progress: only failures to reach the router count
                        continue;
                    }
                    logger.LogInformation("Deployment {Model} ready on {Host}", model.Name, status.Host);
                    break;
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested && attempt < 30)
                {
                    logger.LogWarning("Deployment {Model} not ready yet (attempt {Attempt}): {Message}", model.Name, attempt, e.Message);
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    readiness.MarkFailed($"deployment {model.Name} failed to load: {e.Message}");
                    logger.LogError("Deployment {Model} failed to load: {Message}", model.Name, e.Message);
                    return;
                }
                catch (Exception)
                {
                    return; // shutting down
                }
            }
        }
        readiness.MarkReady();
    }
}
