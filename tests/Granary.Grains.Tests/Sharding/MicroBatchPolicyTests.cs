using Granary.Grains.Sharding;

namespace Granary.Grains.Tests.Sharding;

public sealed class MicroBatchPolicyTests
{
    // Runs the policy for some steps against a machine where one choice costs the given seconds per token.
    static List<int> Drive(MicroBatchPolicy policy, double oneBatch, double perStage, int steps)
    {
        var chosen = new List<int>();
        for (int i = 0; i < steps; i++)
        {
            int m = policy.Choose(numInputs: 16);
            chosen.Add(m);
            policy.Record(m, numInputs: 16, numTokens: 16, seconds: 16 * (m == 1 ? oneBatch : perStage));
        }
        return chosen;
    }

    [Fact]
    public void Keeps_the_faster_choice_after_probing_both_and_still_reprobes()
    {
        var chosen = Drive(new MicroBatchPolicy(numStages: 2), oneBatch: 0.004, perStage: 0.002, steps: 200);
        Assert.Contains(1, chosen.Take(12));
        Assert.Contains(2, chosen.Take(12));
        var settled = chosen.Skip(12).ToList();
        Assert.True(settled.Count(m => m == 2) > 0.95 * settled.Count);
        Assert.Contains(1, settled); // the slower one is tried again now and then
    }

    [Fact]
    public void Prefers_one_batch_when_splitting_only_adds_calls()
    {
        var chosen = Drive(new MicroBatchPolicy(numStages: 3), oneBatch: 0.002, perStage: 0.003, steps: 100);
        Assert.True(chosen.Skip(12).Count(m => m == 1) > 90 - 5);
        Assert.Equal(3, chosen.Where(m => m > 1).Distinct().Single());
    }

    [Fact]
    public void Prefill_steps_do_not_count()
    {
        var policy = new MicroBatchPolicy(numStages: 2);
        // A cheap-per-token prefill under one batch must not make one batch look faster than it is on decodes.
        policy.Record(1, numInputs: 16, numTokens: 512, seconds: 0.02);
        var chosen = Drive(policy, oneBatch: 0.004, perStage: 0.002, steps: 100);
        Assert.True(chosen.Skip(12).Count(m => m == 2) > 80);
    }

    [Fact]
    public void One_stage_or_one_input_never_splits_and_a_fixed_choice_is_kept()
    {
        Assert.Equal(1, new MicroBatchPolicy(numStages: 1).Choose(16));
        Assert.Equal(1, new MicroBatchPolicy(numStages: 4).Choose(1));
        Assert.Equal(3, new MicroBatchPolicy(numStages: 4) { Fixed = 4 }.Choose(3));
    }
}
