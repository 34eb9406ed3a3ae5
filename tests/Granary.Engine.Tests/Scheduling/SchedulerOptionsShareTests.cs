using Granary.Engine.Scheduling;

namespace Granary.Engine.Tests.Scheduling;

public sealed class SchedulerOptionsShareTests
{
    [Fact]
    public void Lanes_shares_keep_the_deployments_limits_together()
    {
        var options = new SchedulerOptions { MaxNumRunningSequences = 9, MaxNumBatchedTokens = 512, MaxNumWaiting = 5, KvCacheTokenBudget = 1001, MaxSequenceTokens = 300 };

        var share = options.ShareOf(2);

        Assert.Equal(5, share.MaxNumRunningSequences);   // rounded up: 9 sequences still fit
        Assert.Equal(3, share.MaxNumWaiting);
        Assert.Equal(500, share.KvCacheTokenBudget);     // rounded down: never more KV than the budget
        Assert.Equal(512, share.MaxNumBatchedTokens);    // a step's length, not a capacity
        Assert.Equal(300, share.MaxSequenceTokens);
        Assert.Null(share.Validate());
        Assert.Same(options, options.ShareOf(1));
        Assert.Equal(long.MaxValue, new SchedulerOptions().ShareOf(4).KvCacheTokenBudget); // unlimited stays unlimited
        Assert.Throws<ArgumentOutOfRangeException>(() => options.ShareOf(0));
    }
}
