using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Granary.Abstractions.Serving;
using Granary.Server.Serving;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Granary.Server.Telemetry;

/// <summary>
/// vLLM's load gauges (running and waiting requests, KV usage), the speculative-decoding counters (the router's
/// engine counts draft and accepted tokens) and Granary's KV-per-tier gauge, read from each deployment's router. A gauge callback must not make grain calls, so a background loop samples every router's
/// <see cref="DeploymentStatus"/> once a second and the gauges report the latest sample.
/// </summary>
/// <remarks>
/// NOTE: a deployment's router lives in one silo; only that silo reports its gauges, so a sum over all pods
/// counts every request once. A process that is not a silo (an API-only Orleans client) reports every deployment.
/// </remarks>
public sealed class DeploymentLoadGauges : BackgroundService
{
    static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(1);
    static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(5);

    readonly ModelGateway _gateway;
    readonly Readiness _readiness;
    readonly string? _localSilo;
    readonly ILogger<DeploymentLoadGauges> _logger;
    readonly ConcurrentDictionary<string, DeploymentStatus> _latest = new(StringComparer.Ordinal);

    public DeploymentLoadGauges(IMeterFactory meters, ModelGateway gateway, Readiness readiness, IServiceProvider services,
        ILogger<DeploymentLoadGauges> logger)
    {
        _gateway = gateway;
        _readiness = readiness;
        _localSilo = services.GetService<ILocalSiloDetails>()?.SiloAddress.ToString();
        _logger = logger;
        var meter = meters.Create(ServingMetrics.MeterName);
        meter.CreateObservableGauge(MetricNames.ToInstrumentName(MetricNames.NumRequestsRunning),
            () => Observe(status => status.NumRunning), unit: null, "Requests in the running batch");
        meter.CreateObservableGauge(MetricNames.ToInstrumentName(MetricNames.NumRequestsWaiting),
            () => Observe(status => status.NumWaiting), unit: null, "Requests waiting to be admitted");
        meter.CreateObservableGauge(MetricNames.ToInstrumentName(MetricNames.KvCacheUsage),
            () => Observe(KvUsage), unit: null, "Fraction of the KV budget reserved by running requests (1 = full)");
        meter.CreateObservableCounter(MetricNames.ToInstrumentName(MetricNames.SpecDecodeDraftTokens),
            () => ObserveCount(status => status.SpecDecodeNumDraftTokens), unit: null, "Draft tokens proposed by speculative decoding");
        meter.CreateObservableCounter(MetricNames.ToInstrumentName(MetricNames.SpecDecodeAcceptedTokens),
            () => ObserveCount(status => status.SpecDecodeNumAcceptedTokens), unit: null, "Draft tokens the target accepted");
        meter.CreateObservableGauge(MetricNames.ToInstrumentName(MetricNames.KvTierTokens),
            () => Observe(status => (double)status.KvTokensReserved, new KeyValuePair<string, object?>("tier", "device")),
            unit: null, "KV positions held, by tier");
    }

    /// <summary>The last sample of each deployment this process reports (for tests and the health of the loop).</summary>
    public IReadOnlyDictionary<string, DeploymentStatus> Latest => _latest;

    /// <summary>
    /// 0 when the budget is unlimited (no --kv-cache-tokens): nothing is ever full. With a budget, the fraction
    /// reserved, which is what the scheduler admits against.
    /// </summary>
    internal static double KvUsage(DeploymentStatus status) =>
        status.KvTokenBudget is <= 0 or long.MaxValue ? 0 : (double)status.KvTokensReserved / status.KvTokenBudget;

    IEnumerable<Measurement<double>> Observe(Func<DeploymentStatus, double> value, KeyValuePair<string, object?>? extraTag = null)
    {
        foreach (var (model, status) in _latest)
        {
            var modelTag = ServingMetrics.ModelTag(model);
            yield return extraTag is { } tag ? new(value(status), modelTag, tag) : new(value(status), modelTag);
        }
    }

    // A re-activated router starts counting from 0 again: Prometheus reads that as a counter reset.
    IEnumerable<Measurement<long>> ObserveCount(Func<DeploymentStatus, long> value) =>
        _latest.Select(pair => new Measurement<long>(value(pair.Value), ServingMetrics.ModelTag(pair.Key)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SampleInterval);
        do
        {
            // Before readiness a status call would activate (load) a router the warm-up is already loading.
            if (_readiness.IsReady)
                foreach (var model in _gateway.Models)
                    await SampleAsync(model.Name, stoppingToken);
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    async Task SampleAsync(string model, CancellationToken stoppingToken)
    {
        try
        {
            var status = await _gateway.GetStatus(model).WaitAsync(StatusTimeout, stoppingToken);
            // A router that is (re)loading its shards has no load to report yet.
            if (!status.IsLoading && (_localSilo is null || status.Host == _localSilo)) _latest[model] = status;
            else _latest.TryRemove(model, out _);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            // Keep the last sample: a scrape during a hiccup shows slightly old load rather than none.
            _logger.LogDebug("Load sample of {Model} failed: {Message}", model, e.Message);
        }
    }

    static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
