using System.Diagnostics.Metrics;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Server.Serving;

namespace Granary.Server.Telemetry;

/// <summary>
/// The request-level instruments (vLLM's latency histograms and token counters), recorded where chunks flow
/// back to the APIs (<see cref="ModelGateway"/>), so HTTP, gRPC and the benchmarks are all counted once.
/// </summary>
public sealed class ServingMetrics
{
    public const string MeterName = "Granary.Server";

    // Bucket bounds follow vLLM's, with finer low ends: a small model on CPU answers in milliseconds.
    static readonly double[] TimeToFirstTokenBuckets =
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
    static readonly double[] InterTokenBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
    static readonly double[] RequestBuckets =
        [0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

    public ServingMetrics(IMeterFactory meters, IEnumerable<ModelFrontend> models)
    {
        var meter = meters.Create(MeterName);
        TimeToFirstToken = Histogram(meter, MetricNames.TimeToFirstToken, "Time from request to its first token", TimeToFirstTokenBuckets);
        InterTokenLatency = Histogram(meter, MetricNames.InterTokenLatency, "Time between consecutive output chunks of a request", InterTokenBuckets);
        EndToEndLatency = Histogram(meter, MetricNames.EndToEndLatency, "Time from request to its last token", RequestBuckets);
        QueueTime = Histogram(meter, MetricNames.QueueTime, "Time a request waited before the scheduler admitted it", RequestBuckets);
        PromptTokens = Counter(meter, MetricNames.PromptTokens, "Prompt tokens of admitted requests");
        GenerationTokens = Counter(meter, MetricNames.GenerationTokens, "Tokens generated");
        RequestSuccess = Counter(meter, MetricNames.RequestSuccess, "Requests that finished, by finish reason");
        RequestFailures = Counter(meter, MetricNames.RequestFailures, "Requests refused or failed, by error kind");
        // NOTE: a counter never added to is not exported at all; every series starts at 0 so that dashboards and
        // rate() see it from the first scrape. The speculative counters are the router's own, read with its load
        // (see DeploymentLoadGauges).
        foreach (var model in models)
        {
            var tag = ModelTag(model.Name);
            foreach (var counter in new[] { PromptTokens, GenerationTokens })
                counter.Add(0, tag);
            foreach (var reason in Enum.GetValues<FinishReason>())
                RequestSuccess.Add(0, tag, new("finished_reason", reason.ToWireName()));
            foreach (var kind in Enum.GetValues<ServingErrorKind>())
                RequestFailures.Add(0, tag, new("kind", kind.ToString()));
        }
    }

    internal Histogram<double> TimeToFirstToken { get; }
    internal Histogram<double> InterTokenLatency { get; }
    internal Histogram<double> EndToEndLatency { get; }
    internal Histogram<double> QueueTime { get; }
    internal Counter<long> PromptTokens { get; }
    internal Counter<long> GenerationTokens { get; }
    internal Counter<long> RequestSuccess { get; }
    internal Counter<long> RequestFailures { get; }

    /// <summary>Starts timing one request; feed it every chunk the request returns.</summary>
    public RequestMetrics StartRequest(string model) => new(this, model);

    internal static KeyValuePair<string, object?> ModelTag(string model) => new(MetricNames.ModelNameLabel, model);

    static Histogram<double> Histogram(Meter meter, string name, string description, double[] buckets) =>
        meter.CreateHistogram(MetricNames.ToInstrumentName(name), "s", description, tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    static Counter<long> Counter(Meter meter, string name, string description) =>
        meter.CreateCounter<long>(MetricNames.ToInstrumentName(name), unit: null, description);
}
