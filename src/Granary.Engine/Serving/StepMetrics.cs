using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Granary.Engine.Serving;

/// <summary>
/// The engine's step-time instruments (BCL <see cref="Meter"/>, no OpenTelemetry dependency here; the server's
/// OpenTelemetry pipeline subscribes to <see cref="MeterName"/>). Instrument names are the exported Prometheus
/// names, so dashboards query e.g. <c>granary_shard_step_seconds_bucket</c>.
/// </summary>
public static class StepMetrics
{
    public const string MeterName = "Granary.Engine";

    static readonly double[] StepBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    static readonly Meter Meter = new(MeterName);

    static readonly Histogram<double> RouterStep = Meter.CreateHistogram("granary_router_step_seconds", "s",
        "One iteration of a deployment's router: schedule, one batched forward over every shard, sample",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StepBuckets });

    static readonly Histogram<double> ShardStep = Meter.CreateHistogram("granary_shard_step_seconds", "s",
        "One batched forward of one shard (pipeline stage, tensor-parallel rank), all-reduces included",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StepBuckets });

    /// <summary>A forward of one shard of a sharded deployment (the shard grain times its own).</summary>
    public static void RecordShardStep(long startedTimestamp, string modelName, int stage, int rank) =>
        ShardStep.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds,
            new KeyValuePair<string, object?>("model_name", modelName), new("stage", stage.ToString()), new("rank", rank.ToString()));

    /// <summary>
    /// A router iteration; when the loop holds the whole model, that iteration is also the step of the deployment's
    /// only shard (stage 0, rank 0).
    /// </summary>
    internal static void RecordLoopStep(long startedTimestamp, StepMetricLabels? labels)
    {
        double seconds = Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds;
        if (labels is null)
        {
            RouterStep.Record(seconds);
            return;
        }
        var model = new KeyValuePair<string, object?>("model_name", labels.ModelName);
        RouterStep.Record(seconds, model);
        if (labels.IsWholeModel) ShardStep.Record(seconds, model, new("stage", "0"), new("rank", "0"));
    }
}

/// <summary>
/// How a <see cref="ServingLoop"/> labels its step metrics: its deployment, and whether its model is the whole
/// model (so each iteration is also the only shard's step) rather than a front for shard grains that time their own.
/// </summary>
public sealed record StepMetricLabels(string ModelName, bool IsWholeModel);
