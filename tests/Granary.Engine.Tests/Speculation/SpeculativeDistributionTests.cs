using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Speculation;
using Granary.Model.Runtime;
using Granary.TestKit;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.Speculation;

/// <summary>
/// Speculative sampling is lossless: with a deliberately bad draft (unrelated weights, so proposals are
/// rejected often), the joint distribution of the two tokens after the first equals the target's own, by a
/// chi-square test at significance 0.001 over 64 cells. Every request has a fixed seed, so the test is
/// deterministic: it cannot flake, it either holds or not.
/// </summary>
public sealed class SpeculativeDistributionTests
{
    const int NumSamples = 2000;
    static readonly int[] Prompt = [1, 3, 4, 5, 6];

    public static TheoryData<double, int> SamplingSettings => new() { { 1.0, 0 }, { 0.8, 5 } };

    [Theory]
    [MemberData(nameof(SamplingSettings))]
    public void Tokens_sampled_with_a_bad_draft_follow_the_targets_distribution(double temperature, int topK)
    {
        var tokenizer = TinyVocabulary.Load();
        var config = TinyModels.Config(vocabSize: TinyVocabulary.Size, hiddenSize: 32, numLayers: 2, numHeads: 2, numKvHeads: 1, intermediateSize: 48);
        using var target = TinyModels.Create(config, seed: 5, std: 0.25);
        using var draft = new DraftModel(TinyModels.Create(config, seed: 77, std: 0.25), ownsModel: true);
        var sampling = new SamplingParams { Temperature = temperature, TopK = topK, MaxTokens = 5, IgnoreEos = true };

        // Token 1 comes from the prompt's forward; tokens 2..5 from speculative steps with k = 3.
        var counts = new long[TinyVocabulary.Size * TinyVocabulary.Size];
        var generator = new BatchGenerator(target, tokenizer, draft, new SpeculationOptions { NumSpeculativeTokens = 3, IsAdaptive = false });
        long drafted = 0, accepted = 0;
        for (int start = 0; start < NumSamples; start += 500)
        {
            var requests = Enumerable.Range(start, 500).Select(seed => new GenerationRequest(Prompt, sampling with { Seed = seed })).ToList();
            foreach (var result in generator.Generate(requests).Results)
                counts[result.TokenIds[1] * TinyVocabulary.Size + result.TokenIds[2]]++;
            drafted += generator.LastSpeculation!.NumDraftTokens;
            accepted += generator.LastSpeculation.NumAcceptedTokens;
        }

        double acceptance = (double)accepted / drafted;
        Assert.True(acceptance < 0.75, $"the draft should be bad (acceptance {acceptance:F2})");
        Assert.True(drafted >= NumSamples * 3, "every request should have speculated");
        var expected = ExpectedJoint(target, temperature, topK);
        Assert.True(expected.Max() < 0.5, "the target's distribution should be spread out enough to test");
        var (statistic, df) = ChiSquare.Statistic(counts, expected);
        double critical = ChiSquare.CriticalValue(df);
        Assert.True(statistic < critical, $"chi-square {statistic:F1} >= {critical:F1} (df {df}, significance 0.001; acceptance {acceptance:F2})");
    }

    // P(t2, t3) = sum over t1 of P(t1) P(t2 | t1) P(t3 | t1, t2), from the target alone, each factor after
    // temperature and top-k computed here independently of the engine's sampler.
    static double[] ExpectedJoint(CausalLm target, double temperature, int topK)
    {
        int v = TinyVocabulary.Size;
        var joint = new double[v * v];
        var p1 = NextToken(target, Prompt, temperature, topK);
        for (int t1 = 0; t1 < v; t1++)
        {
            if (p1[t1] == 0) continue;
            var p2 = NextToken(target, [.. Prompt, t1], temperature, topK);
            for (int t2 = 0; t2 < v; t2++)
            {
                if (p2[t2] == 0) continue;
                var p3 = NextToken(target, [.. Prompt, t1, t2], temperature, topK);
                for (int t3 = 0; t3 < v; t3++) joint[t2 * v + t3] += p1[t1] * p2[t2] * p3[t3];
            }
        }
        return joint;
    }

    static double[] NextToken(CausalLm target, int[] context, double temperature, int topK)
    {
        using var logits = target.Step([new StepInput(null, context)]);
        double[] scores = logits[0].to(float64).data<double>().Select(x => x / temperature).ToArray();
        if (topK > 0)
        {
            double kth = scores.OrderByDescending(x => x).ElementAt(topK - 1);
            for (int i = 0; i < scores.Length; i++) if (scores[i] < kth) scores[i] = double.NegativeInfinity;
        }
        double max = scores.Max();
        double[] weights = scores.Select(x => Math.Exp(x - max)).ToArray();
        double sum = weights.Sum();
        return weights.Select(w => w / sum).ToArray();
    }
}
