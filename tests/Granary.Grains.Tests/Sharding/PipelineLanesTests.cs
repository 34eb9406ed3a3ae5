using Granary.Engine.KvReuse;
using Granary.Engine.Scheduling;
using Granary.Grains.Deployments;

namespace Granary.Grains.Tests.Sharding;

public sealed class PipelineLanesTests
{
    static readonly DeploymentOptions Plain = new() { Name = "m", ModelDirectory = "/models/m" };
    static readonly PipelineShape TwoStages = new(2, ConcurrentSteps: true);
    static readonly SchedulerOptions Scheduler = new();

    [Fact]
    public void A_pipeline_gets_a_lane_per_stage_by_default_and_as_many_as_asked()
    {
        Assert.Equal((2, null), PipelineLanes.For(Plain, TwoStages, 256, Scheduler));
        Assert.Equal((3, null), PipelineLanes.For(Plain, new PipelineShape(3, true), 256, Scheduler));
        Assert.Equal((4, null), PipelineLanes.For(Plain with { PipelineLanes = 4 }, TwoStages, 256, Scheduler));
        Assert.Equal((1, null), PipelineLanes.For(Plain with { PipelineLanes = 1 }, TwoStages, 256, Scheduler));
        Assert.Equal((1, null), PipelineLanes.For(Plain, new PipelineShape(1, true), 256, Scheduler)); // tp alone: one stage
        Assert.Equal((1, null), PipelineLanes.For(Plain, null, 256, Scheduler));
    }

    public static TheoryData<string> OneLaneCases => ["whole model", "vocabulary parallel", "draft", "kv tier", "few sequences", "small kv budget"];

    [Theory]
    [MemberData(nameof(OneLaneCases))]
    public void One_lane_wherever_lanes_would_change_what_a_request_gets(string why)
    {
        var asked = Plain with { PipelineLanes = 2 };
        var (count, whyOne) = why switch
        {
            "whole model" => PipelineLanes.For(asked, null, 256, Scheduler),
            "vocabulary parallel" => PipelineLanes.For(asked, TwoStages with { ConcurrentSteps = false }, 256, Scheduler),
            "draft" => PipelineLanes.For(asked with { DraftDirectory = "/models/draft" }, TwoStages, 256, Scheduler),
            "kv tier" => PipelineLanes.For(asked with { KvReuse = new KvReuseOptions() }, TwoStages, 256, Scheduler),
            "few sequences" => PipelineLanes.For(asked, TwoStages, 256, Scheduler with { MaxNumRunningSequences = 1 }),
            _ => PipelineLanes.For(asked, TwoStages, 256, Scheduler with { KvCacheTokenBudget = 511 }), // 255 each < 256 positions
        };
        Assert.Equal(1, count);
        Assert.False(string.IsNullOrEmpty(whyOne));
        // A budget whose share holds a whole sequence is fine.
        Assert.Equal(2, PipelineLanes.For(asked, TwoStages, 256, Scheduler with { KvCacheTokenBudget = 512 }).Count);
    }
}
