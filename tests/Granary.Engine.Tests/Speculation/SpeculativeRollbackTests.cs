using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Speculation;
using Granary.Engine.Tests.Generation;
using Granary.Model.KvCache;
using Granary.Model.Runtime;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.Speculation;

/// <summary>
/// After rejected proposals are rolled back, the target's and the draft's KV caches hold exactly what a run
/// that never speculated would hold: the keys and values of the sequence's tokens, nothing of the rejected ones.
/// </summary>
public sealed class SpeculativeRollbackTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    [Theory]
    [InlineData(0.0)]  // greedy
    [InlineData(1.0)]  // sampled
    public void After_rejections_both_caches_equal_those_of_a_run_that_never_speculated(double temperature)
    {
        var target = fixture.Loaded.Model;
        using var draft = Drafts.NoisyCopy(target, noise: 0.02);
        var engine = new InferenceEngine(target, fixture.Loaded.Tokenizer, new SchedulerOptions(), draft,
            new SpeculationOptions { NumSpeculativeTokens = 4, IsAdaptive = false });
        var sampling = new SamplingParams { Temperature = temperature, MaxTokens = 60, IgnoreEos = true, Seed = 3 };
        var sequences = new[] { "def fibonacci(n):", "import os\nimport sys" }
            .Select(p => engine.Submit(new GenerationRequest(fixture.Loaded.Tokenizer.Encode(p, addBos: true), sampling))).ToList();
        for (int step = 0; step < 8; step++) engine.Step();

        var stats = engine.SpeculationStats;
        Assert.True(stats.NumAcceptedTokens < stats.NumDraftTokens, "the test needs rejections");
        Assert.True(stats.NumAcceptedTokens > 0, "the test needs acceptances too");
        foreach (var sequence in sequences)
        {
            Assert.False(sequence.IsFinished);
            // The target holds every token but the last emitted one (the next step feeds it).
            var tokens = Enumerable.Range(0, sequence.NumTokens).Select(sequence.TokenAt).ToArray();
            Assert.Equal(tokens.Length - 1, sequence.Cache!.Length);
            AssertCacheMatchesPlainPrefill(target, (SequenceKvCache)sequence.Cache, tokens[..^1]);
            // The draft may lag (it catches up on its next proposal), but what it holds must be right.
            var draftCache = sequence.Speculation!.DraftCache;
            Assert.InRange(draftCache.Length, 1, tokens.Length - 1);
            AssertCacheMatchesPlainPrefill(draft.Model, (SequenceKvCache)draftCache, tokens[..draftCache.Length]);
        }
    }

    // Reference: one forward of exactly these tokens into a fresh cache.
    static void AssertCacheMatchesPlainPrefill(CausalLm model, SequenceKvCache cache, int[] tokens)
    {
        using var reference = model.NewCache(tokens.Length);
        using (model.Step([new StepInput(reference, tokens)])) { }
        for (int layer = 0; layer < model.Config.NumLayers; layer++)
        {
            var (keys, values) = cache.Read(layer, 0);          // [Hkv, L, Dh]
            var (refKeys, refValues) = reference.Read(layer, 0);
            using (keys) using (values) using (refKeys) using (refValues)
            {
                Assert.Equal(refKeys.shape, keys.shape);
                double keyError = (keys - refKeys).abs().max().item<float>();
                double valueError = (values - refValues).abs().max().item<float>();
                // Incremental decode and one prefill differ only by float rounding.
                Assert.True(keyError < 1e-4 && valueError < 1e-4, $"layer {layer}: K differs by {keyError:G3}, V by {valueError:G3}");
            }
        }
    }
}
