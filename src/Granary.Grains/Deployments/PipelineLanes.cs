using Granary.Engine.Scheduling;
using Granary.Grains.Sharding;
using Granary.Model.Runtime;

namespace Granary.Grains.Deployments;

/// <summary>
/// How many serving lanes a deployment's router runs (<see cref="Engine.Serving.ServingLanes"/>): by default one
/// per pipeline stage, so that every stage has a step to work on; one wherever lanes would change what a request
/// gets rather than only how fast.
/// </summary>
public static class PipelineLanes
{
    /// <summary>The most lanes a deployment may ask for.</summary>
    public const int Max = 16;

    /// <summary>
    /// How many micro-batches each step of a model served by <paramref name="lanes"/> lanes is cut into: with several
    /// lanes, one (the lanes keep the stages busy; cutting their steps would only add calls); with one, measured.
    /// </summary>
    public static int? MicroBatchesFor(int lanes) => lanes > 1 ? 1 : null;

    /// <summary>The lanes for <paramref name="deployment"/> on its loaded <paramref name="model"/>, and why not more when it asked for more.</summary>
    public static (int Count, string? WhyOne) For(DeploymentOptions deployment, ICausalLm model, SchedulerOptions scheduler) =>
        model is GrainShardedCausalLm sharded
            ? For(deployment, new PipelineShape(sharded.NumStages, sharded.SupportsConcurrentSteps), model.Config.MaxPositionEmbeddings, scheduler)
            : For(deployment, null, model.Config.MaxPositionEmbeddings, scheduler);

    /// <param name="pipeline">The sharded model's stages and whether it takes concurrent steps; null when the router holds the whole model.</param>
    public static (int Count, string? WhyOne) For(DeploymentOptions deployment, PipelineShape? pipeline, int contextLength, SchedulerOptions scheduler)
    {
        int wanted = deployment.PipelineLanes ?? pipeline?.NumStages ?? 1;
        if (wanted <= 1) return (1, null);
        wanted = Math.Min(wanted, Max);
        long maxSequenceTokens = Math.Min(contextLength, scheduler.MaxSequenceTokens ?? int.MaxValue);
        string? whyOne =
            pipeline is null ? "the router holds the whole model"
            : !pipeline.ConcurrentSteps ? "its plan splits the vocabulary or the sequences (their shards keep one step's state at a time)"
            : deployment.DraftDirectory is not null && deployment.Speculation.NumSpeculativeTokens > 0 ? "it speculates with a draft (one drafter per deployment)"
            : deployment.KvReuse is not null ? "it reuses KV across requests (a conversation's blocks would be in one lane's cache only)"
            : scheduler.MaxNumRunningSequences < wanted ? $"it runs at most {scheduler.MaxNumRunningSequences} sequence(s) at once"
            : scheduler.KvCacheTokenBudget / wanted < maxSequenceTokens ? $"a lane's share of the KV budget ({scheduler.KvCacheTokenBudget / wanted}) would not hold a sequence of {maxSequenceTokens} positions"
            : null;
        return whyOne is null ? (wanted, null) : (1, whyOne);
    }
}

/// <summary>What lanes need to know of a sharded model: its pipeline stages, and whether threads may step it at once.</summary>
public sealed record PipelineShape(int NumStages, bool ConcurrentSteps);
