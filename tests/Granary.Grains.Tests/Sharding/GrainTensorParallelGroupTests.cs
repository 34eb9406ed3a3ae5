using Granary.Grains.Sharding;
using static TorchSharp.torch;

namespace Granary.Grains.Tests.Sharding;

/// <summary>The cross-silo collectives' matching and ordering, with peers that deliver straight to each other's group.</summary>
public sealed class GrainTensorParallelGroupTests
{
    sealed class DirectPeer : IShardGrain
    {
        public GrainTensorParallelGroup? Group;

        public Task AcceptPartial(long stepId, int callIndex, int fromRank, TensorPayload partial)
        {
            Group!.Accept(stepId, callIndex, fromRank, partial);
            return Task.CompletedTask;
        }

        public Task Load(ShardAssignment assignment) => throw new NotSupportedException();
        public Task<ShardStepResult> Forward(ShardStepRequest request) => throw new NotSupportedException();
        public Task<ShardReport> Describe() => throw new NotSupportedException();
        public Task Unload() => throw new NotSupportedException();
        public Task RenewLease(TimeSpan lease) => throw new NotSupportedException();
    }

    static GrainTensorParallelGroup[] Groups(int size, TimeSpan timeout)
    {
        var peers = Enumerable.Range(0, size).Select(_ => new DirectPeer()).ToArray();
        var groups = Enumerable.Range(0, size).Select(r => new GrainTensorParallelGroup(r, peers, CPU, timeout)).ToArray();
        for (int r = 0; r < size; r++) peers[r].Group = groups[r];
        return groups;
    }

    [Fact]
    public async Task Ranks_sum_and_gather_in_rank_order_over_several_steps()
    {
        var groups = Groups(3, TimeSpan.FromSeconds(30));
        var results = await Task.WhenAll(groups.Select(group => Task.Run(() =>
        {
            var sums = new List<float[]>();
            for (long step = 1; step <= 3; step++)
            {
                group.BeginStep(step);
                using var mine = full(new long[] { 2 }, (float)(group.Rank + 10 * step));
                using var sum = group.AllReduceSum(mine);
                using var gathered = group.AllGather(mine);
                sums.Add([.. sum.data<float>().ToArray(), .. gathered.data<float>().ToArray()]);
            }
            return sums;
        })));

        for (int step = 0; step < 3; step++)
        {
            float b = 10 * (step + 1);
            float[] expected = [3 * b + 3, 3 * b + 3, b, b, b + 1, b + 1, b + 2, b + 2];
            Assert.All(results, r => Assert.Equal(expected, r[step]));
        }
        Assert.All(groups, g => Assert.Equal(3 * 2 * 2 * 2 * 4L, g.NumBytesSent)); // 3 steps x 2 collectives x 2 peers x 2 floats
    }

    [Fact]
    public void A_peer_that_never_answers_times_out_with_a_clear_error()
    {
        var groups = Groups(2, TimeSpan.FromMilliseconds(200));
        groups[0].BeginStep(1);
        var error = Assert.Throws<TimeoutException>(() => groups[0].AllReduceSum(ones(2)));
        Assert.Contains("peers did not send", error.Message);
    }
}
