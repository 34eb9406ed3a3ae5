using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>Token embedding table <c>weight</c> [V, D]; also the LM head when embeddings are tied.</summary>
public sealed class EmbeddingLayer : nn.Module<Tensor, Tensor>
{
    readonly Parameter _weight;

    public EmbeddingLayer(long vocabSize, long hiddenSize, ScalarType dtype, Device device) : base(nameof(EmbeddingLayer))
    {
        _weight = new Parameter(empty([vocabSize, hiddenSize], dtype, device), requires_grad: false);
        register_parameter("weight", _weight);
    }

    public Tensor Weight => _weight;

    // ids: [T] int64 -> [T, D]
    public override Tensor forward(Tensor ids) => _weight.index_select(0, ids);
}
