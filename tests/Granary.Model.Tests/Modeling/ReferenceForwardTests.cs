using Granary.Model.Configuration;
using Granary.Model.Modeling;
using Granary.Model.Runtime;
using Granary.TestKit;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Modeling;

public sealed class ReferenceForwardTests
{
    public static TheoryData<ModelArchitecture, bool, int, bool> Variants => new()
    {
        { ModelArchitecture.Llama, false, 2, false },   // GQA, untied
        { ModelArchitecture.Llama, true, 4, true },     // MHA, tied, Llama-3 rope scaling
        { ModelArchitecture.Qwen2, true, 1, false },    // MQA, q/k/v bias
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void TorchSharp_forward_matches_an_independent_scalar_implementation(
        ModelArchitecture architecture, bool tied, int numKvHeads, bool llama3Scaling)
    {
        var scaling = llama3Scaling ? new RopeScaling("llama3", 8.0, 1.0, 4.0, 32) : null;
        var config = TinyModels.Config(architecture, numKvHeads: numKvHeads, tieWordEmbeddings: tied, ropeScaling: scaling);
        using var model = TinyModels.Create(config, seed: 99);
        if (config.QkvBias) RandomizeBiases(model, seed: 5);
        int[] tokens = TinyModels.RandomTokens(12, config.VocabSize, seed: 11);

        using var logits = model.Step([new StepInput(null, tokens, AllLogits: true)]);
        var weights = model.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        var invFreq = RotaryEmbedding.InverseFrequencies(config.HeadDim, config.RopeTheta, config.RopeScaling);
        var reference = new ScalarReferenceLlama(config, weights).Forward(tokens, invFreq);

        double maxDiff = 0;
        for (int t = 0; t < tokens.Length; t++)
        {
            float[] row = logits[t].data<float>().ToArray();
            for (int v = 0; v < config.VocabSize; v++) maxDiff = Math.Max(maxDiff, Math.Abs(row[v] - reference[t][v]));
        }
        Assert.True(maxDiff <= 1e-4, $"max |diff| vs scalar reference = {maxDiff:E3}");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void A_batch_of_equal_length_cacheless_sequences_matches_the_scalar_reference_for_each(
        ModelArchitecture architecture, bool tied, int numKvHeads, bool llama3Scaling)
    {
        // Equal-length cacheless segments take the batched attention path used by training.
        var scaling = llama3Scaling ? new RopeScaling("llama3", 8.0, 1.0, 4.0, 32) : null;
        var config = TinyModels.Config(architecture, numKvHeads: numKvHeads, tieWordEmbeddings: tied, ropeScaling: scaling);
        using var model = TinyModels.Create(config, seed: 98);
        if (config.QkvBias) RandomizeBiases(model, seed: 6);
        var sequences = Enumerable.Range(0, 3).Select(i => TinyModels.RandomTokens(10, config.VocabSize, seed: 20 + i)).ToArray();

        using var logits = model.Step(sequences.Select(tokens => new StepInput(null, tokens, AllLogits: true)).ToList());
        var weights = model.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        var invFreq = RotaryEmbedding.InverseFrequencies(config.HeadDim, config.RopeTheta, config.RopeScaling);
        var reference = new ScalarReferenceLlama(config, weights);

        double maxDiff = 0;
        for (int s = 0; s < sequences.Length; s++)
        {
            var expected = reference.Forward(sequences[s], invFreq);
            for (int t = 0; t < sequences[s].Length; t++)
            {
                float[] row = logits[s * sequences[s].Length + t].data<float>().ToArray();
                for (int v = 0; v < config.VocabSize; v++) maxDiff = Math.Max(maxDiff, Math.Abs(row[v] - expected[t][v]));
            }
        }
        Assert.True(maxDiff <= 1e-4, $"max |diff| vs scalar reference = {maxDiff:E3}");
    }

    [Fact]
    public void Mistral_sliding_window_matches_the_reference_in_full_and_incremental_forwards()
    {
        var config = TinyModels.Config(ModelArchitecture.Mistral) with { SlidingWindow = 5 };
        using var model = TinyModels.Create(config, seed: 17);
        int[] tokens = TinyModels.RandomTokens(14, config.VocabSize, seed: 2);
        var weights = model.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        var invFreq = RotaryEmbedding.InverseFrequencies(config.HeadDim, config.RopeTheta, null);
        var reference = new ScalarReferenceLlama(config, weights).Forward(tokens, invFreq);

        using var cache = model.NewCache(tokens.Length);
        using var prefill = model.Step([new StepInput(cache, tokens[..4], AllLogits: true)]);
        var rows = Enumerable.Range(0, 4).Select(t => prefill[t].data<float>().ToArray()).ToList();
        for (int t = 4; t < tokens.Length; t++)
        {
            using var step = model.Step([new StepInput(cache, [tokens[t]])]);
            rows.Add(step[0].data<float>().ToArray());
        }
        double maxDiff = rows.SelectMany((row, t) => row.Select((v, i) => Math.Abs(v - reference[t][i]))).Max();
        Assert.True(maxDiff <= 1e-4, $"max |diff| vs scalar reference = {maxDiff:E3}");
    }

    [Fact]
    public void Llama3_rope_scaling_keeps_high_frequencies_and_divides_low_ones()
    {
        var scaling = new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192);
        double[] plain = RotaryEmbedding.InverseFrequencies(128, 500000, null);
        double[] scaled = RotaryEmbedding.InverseFrequencies(128, 500000, scaling);
        Assert.Equal(plain[0], scaled[0]);                 // wavelength 2π < 8192/4: unchanged
        Assert.Equal(plain[^1] / 8, scaled[^1], 12);      // wavelength far above 8192: divided by the factor
        Assert.Contains(scaled.Select((f, i) => f / plain[i]), r => r > 1.0 / 8 + 1e-6 && r < 1 - 1e-6); // the smooth band
    }

    // HF initializes biases to zero; random ones make the test see whether the bias is applied at all.
    static void RandomizeBiases(CausalLm model, int seed)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, parameter) in model.Network.named_parameters())
            if (name.EndsWith(".bias")) parameter.copy_(normal(0, 0.1, parameter.shape, generator: generator));
    }
}
