using Granary.Engine.Speculation;

namespace Granary.Engine.Tests.Speculation;

/// <summary>k per sequence from its acceptance; the batch cap on k from measured throughput.</summary>
public sealed class AdaptiveSpeculationTests
{
    [Fact]
    public void k_grows_with_acceptance_and_stays_within_one_and_the_maximum()
    {
        Assert.Equal(1, AdaptiveK.ForAcceptance(0.1, 6));
        Assert.Equal(2, AdaptiveK.ForAcceptance(0.5, 6));   // 0.5^2 = 0.25 >= 0.2 > 0.5^3
        Assert.Equal(4, AdaptiveK.ForAcceptance(0.7, 6));   // 0.7^4 = 0.24
        Assert.Equal(6, AdaptiveK.ForAcceptance(0.95, 6));
        Assert.Equal(0, AdaptiveK.ForAcceptance(0.95, 0));
    }

    [Fact]
    public void A_sequences_acceptance_estimate_follows_its_outcomes()
    {
        using var cache = new Model.KvCache.SequenceKvCache(1, 1, 4, 8, TorchSharp.torch.ScalarType.Float32, TorchSharp.torch.CPU);
        var speculation = new SequenceSpeculation(cache, 1);
        for (int i = 0; i < 20; i++) speculation.Observe(numDrafted: 4, numAccepted: 0);
        Assert.True(speculation.Acceptance < 0.1);
        for (int i = 0; i < 20; i++) speculation.Observe(numDrafted: 4, numAccepted: 4);
        Assert.True(speculation.Acceptance > 0.9);
    }

    // Tokens per second of a step at a given cap, in a world where speculation pays up to k = best.
    static double Throughput(int cap, int best) => 100 + 20 * (best - Math.Abs(cap - best));

    static SpeculationController Run(int batchSize, int best, int steps, int maxK = 4)
    {
        var controller = new SpeculationController(maxK, isAdaptive: true);
        for (int i = 0; i < steps; i++)
        {
            int cap = controller.CapFor(batchSize);
            controller.Observe(batchSize, cap, numTokens: (int)Throughput(cap, best), seconds: 1);
        }
        return controller;
    }

    [Fact]
    public void Where_speculation_does_not_pay_the_cap_falls_to_plain_decoding()
    {
        Assert.Equal(0, Run(batchSize: 16, best: 0, steps: 40).CurrentCap(16)); // one move per exploration: 4 -> 0 in 36 steps
    }

    [Fact]
    public void Plain_decoding_is_found_even_when_each_neighbouring_cap_is_within_the_noise_margin()
    {
        // Each cap below is only 2% faster than the one above it (less than the 3% a move needs), yet plain
        // decoding beats k = 4 by 8%: a large batch, where every speculative position costs a little.
        var controller = new SpeculationController(4, isAdaptive: true);
        for (int i = 0; i < 200; i++)
        {
            int cap = controller.CapFor(16);
            controller.Observe(16, cap, numTokens: 1000 - 20 * cap, seconds: 1);
        }
        Assert.Equal(0, controller.CurrentCap(16));
    }

    [Fact]
    public void Where_speculation_pays_the_cap_settles_at_the_fastest_k()
    {
        Assert.Equal(4, Run(batchSize: 1, best: 4, steps: 60).CurrentCap(1));
        Assert.Equal(2, Run(batchSize: 4, best: 2, steps: 60).CurrentCap(4));
    }

    [Fact]
    public void Batch_sizes_learn_separately_and_a_new_one_starts_from_the_next_smaller()
    {
        var controller = Run(batchSize: 1, best: 4, steps: 30);
        for (int i = 0; i < 60; i++)
        {
            int cap = controller.CapFor(16);
            controller.Observe(16, cap, (int)Throughput(cap, 0), 1);
        }
        Assert.Equal(4, controller.CurrentCap(1));
        Assert.Equal(0, controller.CurrentCap(16));
        Assert.Equal(0, controller.CurrentCap(32)); // starts from what batch 16 learned
    }

    [Fact]
    public void Once_settled_it_explores_ever_more_rarely()
    {
        var controller = Run(batchSize: 16, best: 0, steps: 60);
        Assert.Equal(0, controller.CurrentCap(16));
        int explorations = 0;
        for (int i = 0; i < 400; i++)
        {
            int cap = controller.CapFor(16);
            if (cap != 0) explorations++;
            controller.Observe(16, cap, (int)Throughput(cap, 0), 1);
        }
        Assert.InRange(explorations, 3, 30); // a few 3-step explorations every 96 steps, not every 6th step
        Assert.Equal(0, controller.CurrentCap(16));
    }

    [Theory]
    [InlineData(0, SpeculationController.MaxPlainExplorePeriod)] // from plain decoding each exploration first catches the drafts up
    [InlineData(2, SpeculationController.MaxExplorePeriod)]
    public void Settled_explorations_come_at_most_this_far_apart(int best, int period)
    {
        var controller = Run(batchSize: 4, best: best, steps: 100);
        Assert.Equal(best, controller.CurrentCap(4));
        var starts = new List<int>();
        int previous = best;
        for (int i = 0; i < 3000; i++)
        {
            int cap = controller.CapFor(4);
            if (cap != best && previous == best) starts.Add(i);
            previous = cap;
            controller.Observe(4, cap, (int)Throughput(cap, best), 1);
        }
        var gaps = starts.Zip(starts.Skip(1), (a, b) => b - a).ToList();
        // Each gap is the exploration's own steps and the wait after it (the period, counting the step that starts the next one).
        Assert.Equal(period + SpeculationController.ExploreSteps - 1, gaps[^1]);
        Assert.All(gaps, gap => Assert.True(gap <= period + SpeculationController.ExploreSteps - 1, $"gap {gap}"));
    }

    [Fact]
    public void A_cap_above_what_acceptance_asks_for_drops_to_it_so_exploring_reaches_plain_decoding()
    {
        // Acceptance keeps every sequence at k = 2 whatever the cap, and speculation does not pay: caps 4, 3 and 2
        // all behave (and measure) alike, which alone would leave the cap stuck at 4 with no neighbour faster.
        var controller = new SpeculationController(4, isAdaptive: true);
        for (int i = 0; i < 120; i++)
        {
            int cap = controller.CapFor(1);
            if (cap > 0) cap = controller.OnPlanned(1, cap, maxWantedK: 2);
            int k = Math.Min(cap, 2);
            controller.Observe(1, cap, numTokens: k == 0 ? 100 : 100 - 10 * k, seconds: 1);
        }
        Assert.Equal(0, controller.CurrentCap(1));
    }

    [Fact]
    public void Planning_a_lower_k_than_the_cap_leaves_an_exploration_alone()
    {
        var controller = Run(batchSize: 1, best: 4, steps: 60);
        Assert.Equal(4, controller.CurrentCap(1));
        Assert.Equal(4, controller.OnPlanned(1, cap: 4, maxWantedK: 4));
        Assert.Equal(2, controller.OnPlanned(1, cap: 4, maxWantedK: 2));
        Assert.Equal(2, controller.CurrentCap(1));
        Assert.Equal(3, controller.OnPlanned(1, cap: 3, maxWantedK: 1)); // not the settled cap: an exploration, measured as planned
    }

    [Fact]
    public void Without_adaptation_the_cap_is_always_k()
    {
        var controller = new SpeculationController(3, isAdaptive: false);
        Assert.All(Enumerable.Range(1, 20), b => Assert.Equal(3, controller.CapFor(b)));
    }
}
