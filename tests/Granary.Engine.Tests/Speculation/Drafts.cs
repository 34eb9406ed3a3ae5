using Granary.Engine.Speculation;
using Granary.Model.Modeling;
using Granary.Model.Runtime;
using Granary.TestKit;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.Speculation;

/// <summary>Drafts of known quality for a target: a copy (always accepted), a noisy copy, an unrelated model.</summary>
public static class Drafts
{
    /// <summary>The target's weights plus N(0, noise) (0: an exact copy, every proposal accepted under greedy).</summary>
    public static DraftModel NoisyCopy(CausalLm target, double noise, long seed = 7)
    {
        var network = new LlamaForCausalLM(target.Config, target.DType, target.Device);
        var source = target.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        {
            var generator = new Generator((ulong)seed, new Device(DeviceType.CPU));
            foreach (var (name, parameter) in network.named_parameters())
            {
                parameter.copy_(source[name]);
                if (noise > 0) parameter.add_(randn(parameter.shape, generator: generator) * noise);
            }
        }
        return new DraftModel(new CausalLm(network), ownsModel: true);
    }

    /// <summary>A smaller random model with the target's vocabulary: nearly every proposal is rejected.</summary>
    public static DraftModel Unrelated(CausalLm target, long seed = 99) =>
        new(TinyModels.Create(TinyModels.Config(vocabSize: target.Config.VocabSize, hiddenSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1,
            intermediateSize: 48, maxPositionEmbeddings: target.Config.MaxPositionEmbeddings), seed), ownsModel: true);
}
