using Granary.Model.Runtime;
using Granary.Model.Configuration;
using Granary.Model.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    readonly RmsNorm _inputNorm, _postAttentionNorm;
    readonly LlamaAttention _attention;
    readonly LlamaMlp _mlp;

    /// <param name="cacheIndex">The layer's index in its shard's KV cache.</param>
    public LlamaDecoderLayer(ModelConfig config, int cacheIndex, ScalarType dtype, Device device, TensorParallelLayout? split = null, ITensorParallelGroup? group = null)
        : base(nameof(LlamaDecoderLayer))
    {
        _attention = new LlamaAttention(config, cacheIndex, dtype, device, split, group);
        _mlp = new LlamaMlp(config, dtype, device, split, group);
        _inputNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        _postAttentionNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        register_module("self_attn", _attention);
        register_module("mlp", _mlp);
        register_module("input_layernorm", _inputNorm);
        register_module("post_attention_layernorm", _postAttentionNorm);
    }

    // x: [T, D] -> [T, D]
    public Tensor Forward(Tensor x, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        var h = x.add(_attention.Forward(_inputNorm.forward(x), context), Scalars.One); // a held alpha (see Scalars)
        var output = h.add(_mlp.forward(_postAttentionNorm.forward(h)), Scalars.One);
        return output.MoveToOuterDisposeScope();
    }
}
