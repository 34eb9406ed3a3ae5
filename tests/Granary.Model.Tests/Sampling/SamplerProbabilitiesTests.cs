using Granary.Abstractions;
using Granary.Model.Sampling;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Sampling;

/// <summary>
/// <see cref="SequenceSampler.Probabilities"/> is the exact distribution plain sampling draws from:
/// speculative verification relies on it to keep the output distribution unchanged.
/// </summary>
public sealed class SamplerProbabilitiesTests
{
    static Tensor Logits() => tensor(new float[] { 0.5f, 2.0f, -1f, 3.0f, 1.5f, 0f, -2f, 0.2f });

    static float[] Probabilities(SamplingParams parameters, IEnumerable<int>? prompt = null)
    {
        using var sampler = new SequenceSampler(parameters, prompt ?? []);
        using var logits = Logits();
        using var probs = sampler.Probabilities(logits);
        return probs.data<float>().ToArray();
    }

    [Fact]
    public void Greedy_is_one_hot_on_the_argmax()
    {
        Assert.Equal([0, 0, 0, 1, 0, 0, 0, 0], Probabilities(new SamplingParams { Temperature = 0 }));
    }

    [Fact]
    public void Temperature_top_k_and_top_p_shape_the_distribution_as_sampling_does()
    {
        var p = Probabilities(new SamplingParams { Temperature = 0.5, TopK = 3 });
        double[] expected = Softmax([2.0 / 0.5, 3.0 / 0.5, 1.5 / 0.5]);
        Assert.Equal(expected[0], p[1], 5);
        Assert.Equal(expected[1], p[3], 5);
        Assert.Equal(expected[2], p[4], 5);
        Assert.Equal(0, p.Where((_, i) => i is not (1 or 3 or 4)).Sum());

        var nucleus = Probabilities(new SamplingParams { Temperature = 1.0, TopP = 0.6 }); // tokens 3 and 1 reach 0.6
        Assert.Equal(2, nucleus.Count(x => x > 0));
        Assert.Equal(1.0, nucleus.Sum(), 5);
    }

    [Theory]
    [InlineData(double.Epsilon)]
    [InlineData(1e-300)]
    [InlineData(1e-9)]
    public void A_top_p_below_fp32s_range_keeps_the_most_likely_token(double topP)
    {
        Assert.Equal([0, 0, 0, 1, 0, 0, 0, 0], Probabilities(new SamplingParams { Temperature = 1.0, TopP = topP }));
    }

    [Fact]
    public void The_repetition_penalty_applies_to_tokens_seen_so_far()
    {
        var plain = Probabilities(new SamplingParams { Temperature = 1.0 });
        var penalized = Probabilities(new SamplingParams { Temperature = 1.0, RepetitionPenalty = 2.0 }, prompt: [3]);
        Assert.True(penalized[3] < plain[3]);
    }

    [Fact]
    public void Draws_follow_the_reported_probabilities()
    {
        var parameters = new SamplingParams { Temperature = 1.0, TopK = 4, Seed = 11 };
        var p = Probabilities(parameters);
        using var sampler = new SequenceSampler(parameters, []);
        using var logits = Logits().unsqueeze(0);
        var counts = new int[8];
        const int n = 4000;
        for (int i = 0; i < n; i++) counts[BatchSampler.Sample(logits, [sampler])[0]]++;
        for (int t = 0; t < 8; t++)
        {
            double sd = Math.Sqrt(n * p[t] * (1 - p[t])) + 1e-9;
            Assert.True(Math.Abs(counts[t] - n * p[t]) <= 4.5 * sd + (p[t] == 0 ? 0 : 1), $"token {t}: {counts[t]} draws, expected {n * p[t]:F0}");
        }
    }

    static double[] Softmax(double[] x)
    {
        double max = x.Max();
        var e = x.Select(v => Math.Exp(v - max)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }
}
