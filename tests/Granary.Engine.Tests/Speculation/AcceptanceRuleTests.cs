using Granary.Engine.Speculation;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.Speculation;

public sealed class AcceptanceRuleTests
{
    static Tensor P(params float[] probabilities) => tensor(probabilities);

    [Fact]
    public void A_token_the_target_likes_at_least_as_much_as_the_draft_is_always_accepted()
    {
        using var p = P(0.5f, 0.3f, 0.2f);
        using var q = P(0.4f, 0.3f, 0.3f);
        Assert.True(AcceptanceRule.Accepts(p, q, 0, uniform: 0.999, out var residual)); // p/q > 1
        Assert.True(AcceptanceRule.Accepts(p, q, 1, uniform: 0.999, out _));           // p/q = 1
        Assert.Null(residual);
    }

    [Fact]
    public void A_token_the_draft_overrates_is_accepted_with_probability_p_over_q()
    {
        using var p = P(0.5f, 0.3f, 0.2f);
        using var q = P(0.1f, 0.1f, 0.8f); // token 2: p/q = 0.25
        Assert.True(AcceptanceRule.Accepts(p, q, 2, uniform: 0.24, out _));
        Assert.False(AcceptanceRule.Accepts(p, q, 2, uniform: 0.26, out var residual));
        // Resample from normalize(max(0, p - q)) = (0.4, 0.2, 0) / 0.6: never the rejected token.
        using var normalized = residual! / residual!.sum();
        Assert.Equal([0.4f / 0.6f, 0.2f / 0.6f, 0f], normalized.data<float>().ToArray(), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Accept_then_resample_reproduces_p_exactly()
    {
        // P(token) = q(t) min(1, p/q) + P(reject) * residual(t) must equal p(t), for every t.
        float[] p = [0.5f, 0.3f, 0.15f, 0.05f];
        float[] q = [0.1f, 0.2f, 0.3f, 0.4f];
        using var pt = P(p);
        using var qt = P(q);
        using var residual = AcceptanceRule.ResidualDistribution(pt, qt);
        float[] r = (residual / residual.sum()).data<float>().ToArray();
        double reject = Enumerable.Range(0, p.Length).Sum(t => q[t] * (1 - Math.Min(1, p[t] / q[t])));
        for (int t = 0; t < p.Length; t++)
            Assert.Equal(p[t], q[t] * Math.Min(1, p[t] / q[t]) + reject * r[t], 5);
    }

    [Fact]
    public void When_p_equals_q_the_residual_falls_back_to_p()
    {
        using var p = P(0.25f, 0.75f);
        using var residual = AcceptanceRule.ResidualDistribution(p, p);
        Assert.Equal([0.25f, 0.75f], residual.data<float>().ToArray());
    }

    [Fact]
    public void Greedy_accepts_the_longest_prefix_that_matches_the_targets_argmax()
    {
        Assert.Equal(0, AcceptanceRule.NumGreedyAccepted([5, 6, 7], [9, 6, 7, 1]));
        Assert.Equal(2, AcceptanceRule.NumGreedyAccepted([5, 6, 7], [5, 6, 8, 1]));
        Assert.Equal(3, AcceptanceRule.NumGreedyAccepted([5, 6, 7], [5, 6, 7, 1]));
        Assert.Equal(1, AcceptanceRule.NumGreedyAccepted([5, 6], [0, 0, 5, 0, 0], targetOffset: 2)); // rows of a batch
    }

    sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
