using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Sharding;

public sealed class InProcessTensorParallelGroupTests
{
    [Fact]
    public async Task Every_rank_gets_the_same_sum_and_the_same_gather_in_rank_order()
    {
        var groups = InProcessTensorParallelGroup.Create(3);
        var results = await Task.WhenAll(groups.Select(group => Task.Run(() =>
        {
            using var mine = full(new long[] { 2, 2 }, (float)(group.Rank + 1));
            var sums = Enumerable.Range(0, 4).Select(_ => group.AllReduceSum(mine)).ToList(); // repeated calls reuse the slots
            var gathered = group.AllGather(mine);
            return (Sum: sums[^1].data<float>().ToArray(), Gathered: gathered.data<float>().ToArray());
        })));

        Assert.All(results, r => Assert.Equal(Enumerable.Repeat(6f, 4), r.Sum));
        Assert.All(results, r => Assert.Equal(new float[] { 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3 }, r.Gathered));
    }

    [Fact]
    public async Task An_aborted_group_releases_a_rank_waiting_for_the_others()
    {
        var groups = InProcessTensorParallelGroup.Create(2);
        var waiting = Task.Run(() => groups[0].AllReduceSum(ones(3)));
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);

        ((InProcessTensorParallelGroup)groups[1]).Abort();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => waiting);
        Assert.Contains("aborted", error.Message);
    }
}
