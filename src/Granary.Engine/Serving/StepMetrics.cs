using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Granary.Engine.Serving;

/// <summary>
/// The engine's own instruments (BCL <see cref="Meter"/>, no OpenTelemetry dependency here; the server's
/// OpenTelemetry pipeline subscribes to <see cref="MeterName"/>). The instrument name is the exported
/// Prometheus name, so dashboards query <c>granary_shard_step_seconds_bucket</c>.
/// </summary>
public static class StepMetrics
{
    public const string MeterName = "Granary.Engine";

    /// <summary>Until the model is split over shards, the whole model is one shard: stage 0, rank 0.</summary>
    static readonly KeyValuePair<string, object?>[] SingleShard = [new("stage", "0"), new("rank", "0")];

    static readonly Meter Meter = new(MeterName);

    static readonly Histogram<double> StepSeconds = Meter.CreateHistogram(
        "granary_shard_step_seconds", "s", "Wall time of one batched forward step of a shard (schedule + forward + sample)",
        tags: null,
        advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        });

    internal static void RecordStep(long startedTimestamp) =>
        StepSeconds.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, SingleShard);
}
