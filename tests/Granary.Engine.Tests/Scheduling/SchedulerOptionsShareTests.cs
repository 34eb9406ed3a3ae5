using Granary.Engine.Scheduling;

namespace Granary.Engine.Tests.Scheduling;

public sealed class SchedulerOptionsShareTests
{
    [Fact]
    public void Lanes_shares_add_up_to_the_deployments_limits()
    {
        var options = new SchedulerOptions { MaxNumRunningSequences = 10, MaxNumBatchedTokens = 512, MaxNumWaiting = 5, KvCacheTokenBudget = 1001, MaxSequenceTokens = 300 };

        var shares = Enumerable.Range(0, 3).Select(lane => options.ShareOf(lane, 3)).ToList();

        Assert.Equal([4, 3, 3], shares.Select(s => s.MaxNumRunningSequences));
        Assert.Equal([2, 2, 1], shares.Select(s => s.MaxNumWaiting));
        Assert.Equal([334L, 334, 333], shares.Select(s => s.KvCacheTokenBudget));
        Assert.All(shares, s => Assert.Equal(512, s.MaxNumBatchedTokens)); // a step's length, not a capacity
        Assert.All(shares, s => Assert.Equal(300, s.MaxSequenceTokens));
        Assert.All(shares, s => Assert.Null(s.Validate()));
        Assert.Same(options, options.ShareOf(0, 1));
        Assert.Equal(long.MaxValue, new SchedulerOptions().ShareOf(3, 4).KvCacheTokenBudget); // unlimited stays unlimited
    }

    [Fact]
    public void More_lanes_than_running_sequences_or_a_lane_out_of_range_is_refused()
    {
        var options = new SchedulerOptions { MaxNumRunningSequences = 2 };
        Assert.Throws<ArgumentException>(() => options.ShareOf(0, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.ShareOf(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.ShareOf(0, 0));
    }
}
