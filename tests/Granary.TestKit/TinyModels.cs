using Granary.Model.Configuration;
using Granary.Model.Modeling;
using Granary.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.TestKit;

/// <summary>Tiny random Llama-family models for tests: a few layers, GQA, seeded weights.</summary>
public static class TinyModels
{
    public static ModelConfig Config(
        ModelArchitecture architecture = ModelArchitecture.Llama,
        int vocabSize = 97,
        int hiddenSize = 64,
        int numLayers = 2,
        int numHeads = 4,
        int numKvHeads = 2,
        int intermediateSize = 96,
        bool tieWordEmbeddings = false,
        RopeScaling? ropeScaling = null,
        int maxPositionEmbeddings = 256) => new()
    {
        Architecture = architecture,
        VocabSize = vocabSize,
        HiddenSize = hiddenSize,
        IntermediateSize = intermediateSize,
        NumLayers = numLayers,
        NumHeads = numHeads,
        NumKvHeads = numKvHeads,
        HeadDim = hiddenSize / numHeads,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        RopeScaling = ropeScaling,
        MaxPositionEmbeddings = maxPositionEmbeddings,
        TieWordEmbeddings = tieWordEmbeddings,
        QkvBias = architecture == ModelArchitecture.Qwen2,
        EosTokenIds = [vocabSize - 1],
    };

    /// <summary>
    /// A model with N(0, <paramref name="std"/>) weights. The default std is larger than HF's 0.02 so
    /// that logits are peaked: greedy tokens then do not hinge on last-bit float differences.
    /// </summary>
    public static CausalLm Create(ModelConfig config, long seed = 1234, ScalarType dtype = ScalarType.Float32, double std = 0.15)
    {
        var network = new LlamaForCausalLM(config, dtype, new Device(DeviceType.CPU));
        WeightInitializer.Initialize(network, seed, std);
        return new CausalLm(network);
    }

    public static int[] RandomTokens(int count, int vocabSize, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => random.Next(vocabSize)).ToArray();
    }
}
