using System.Diagnostics;
using Granary.Engine.Scheduling;

namespace Granary.Engine.Serving;

/// <summary>
/// One span per engine step (<c>granary.step</c>), linked to the trace of every request whose tokens the step
/// carried: a step serves many requests, so it has links rather than one parent. While it is current, the calls a
/// sharded model makes to its shards (Orleans propagates the activity) become its children, so a request's trace
/// reaches each shard's forward through the step's link. Costs nothing when no tracer listens.
/// </summary>
public static class StepTracing
{
    public const string SourceName = "Granary.Engine";

    static readonly ActivitySource Source = new(SourceName);

    public static Activity? StartStep(IReadOnlyList<ScheduledChunk> plan)
    {
        if (!Source.HasListeners()) return null;
        var links = plan.Select(c => c.Sequence.Request.TraceParent).OfType<ActivityContext>().Distinct().Select(c => new ActivityLink(c)).ToList();
        // A root span: the loop thread's current activity (if any) is not a request's.
        var activity = Source.StartActivity("granary.step", ActivityKind.Internal, parentContext: default, links: links);
        activity?.SetTag("granary.step.sequences", plan.Count);
        activity?.SetTag("granary.step.tokens", plan.Sum(c => c.TokenIds.Count));
        return activity;
    }
}
