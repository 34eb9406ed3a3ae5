using Granary.Abstractions;
using Granary.Model.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Sampling;

public sealed class SequenceSamplerTests
{
    // Token 3 is the most likely, then 1, then 4; the rest far behind.
    static Tensor Logits() => tensor(new float[] { 0.5f, 2.0f, -1f, 3.0f, 1.5f, 0f, -2f, 0.2f });

    static int[] Draw(SamplingParams parameters, int count, IEnumerable<int>? prompt = null)
    {
        using var sampler = new SequenceSampler(parameters, prompt ?? []);
        using var logits = Logits().unsqueeze(0);
        return Enumerable.Range(0, count).Select(_ => BatchSampler.Sample(logits, [sampler])[0]).ToArray();
    }

    [Fact]
    public void Greedy_picks_the_argmax()
    {
        Assert.All(Draw(new SamplingParams { Temperature = 0 }, 5), id => Assert.Equal(3, id));
    }

    [Fact]
    public void Top_k_samples_only_among_the_k_most_likely()
    {
        var ids = Draw(new SamplingParams { Temperature = 5.0, TopK = 2, Seed = 1 }, 400);
        Assert.All(ids, id => Assert.Contains(id, new[] { 3, 1 }));
        Assert.Contains(1, ids); // high temperature: both survivors do occur
        Assert.Contains(3, ids);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_set_that_reaches_the_mass()
    {
        // At temperature 1 the probabilities are about 0.55, 0.20, 0.12 for tokens 3, 1, 4: 0.6 needs two tokens.
        var ids = Draw(new SamplingParams { Temperature = 1.0, TopP = 0.6, Seed = 2 }, 400);
        Assert.All(ids, id => Assert.Contains(id, new[] { 3, 1 }));
        Assert.Contains(1, ids);
        Assert.All(Draw(new SamplingParams { Temperature = 1.0, TopP = 0.01, Seed = 2 }, 50), id => Assert.Equal(3, id));
    }

    [Fact]
    public void Repetition_penalty_demotes_tokens_already_seen()
    {
        // Token 3 (logit 3.0) in the prompt with penalty 4 drops to 0.75, below token 1 (2.0).
        Assert.Equal(1, Draw(new SamplingParams { Temperature = 0, RepetitionPenalty = 4.0 }, 1, prompt: [3])[0]);
        // A negative logit is multiplied, so a seen token never climbs: token 2 stays last-but-one.
        Assert.Equal(3, Draw(new SamplingParams { Temperature = 0, RepetitionPenalty = 4.0 }, 1, prompt: [2])[0]);
    }

    [Fact]
    public void The_same_seed_draws_the_same_tokens_and_another_seed_does_not()
    {
        var sampling = new SamplingParams { Temperature = 3.0, Seed = 11 };
        Assert.Equal(Draw(sampling, 50), Draw(sampling, 50));
        Assert.NotEqual(Draw(sampling, 50), Draw(sampling with { Seed = 12 }, 50));
    }

    [Fact]
    public void Sampling_follows_the_softmax_distribution()
    {
        var ids = Draw(new SamplingParams { Temperature = 1.0, Seed = 3 }, 4000);
        double[] expected = Logits().softmax(0).data<float>().Select(p => (double)p).ToArray();
        for (int token = 0; token < expected.Length; token++)
        {
            double observed = ids.Count(id => id == token) / (double)ids.Length;
            Assert.True(Math.Abs(observed - expected[token]) < 0.03, $"token {token}: observed {observed:F3}, expected {expected[token]:F3}");
        }
    }

    [Fact]
    public void A_mixed_batch_gives_greedy_rows_their_argmax_and_sampled_rows_their_own_draws()
    {
        using var logits = stack([Logits(), Logits().neg(), Logits()]); // row 1's argmax is token 6
        var sampled = new SamplingParams { Temperature = 3.0, Seed = 5 };
        using var greedy = new SequenceSampler(new SamplingParams { Temperature = 0 }, []);
        using var greedyToo = new SequenceSampler(new SamplingParams { Temperature = 0 }, []);
        using var random = new SequenceSampler(sampled, []);
        using var alone = new SequenceSampler(sampled, []);
        using var row = Logits().unsqueeze(0);
        for (int i = 0; i < 20; i++)
        {
            int[] ids = BatchSampler.Sample(logits, [greedy, greedyToo, random]);
            Assert.Equal(3, ids[0]);
            Assert.Equal(6, ids[1]);
            Assert.Equal(BatchSampler.Sample(row, [alone])[0], ids[2]);
        }
    }
}
