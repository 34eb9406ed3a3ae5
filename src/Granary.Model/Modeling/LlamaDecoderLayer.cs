using Granary.Model.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    readonly RmsNorm _inputNorm, _postAttentionNorm;
    readonly LlamaAttention _attention;
    readonly LlamaMlp _mlp;

    public LlamaDecoderLayer(ModelConfig config, int layerIndex, ScalarType dtype, Device device) : base(nameof(LlamaDecoderLayer))
    {
        _attention = new LlamaAttention(config, layerIndex, dtype, device);
        _mlp = new LlamaMlp(config, dtype, device);
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
        var h = x + _attention.Forward(_inputNorm.forward(x), context);
        var output = h + _mlp.forward(_postAttentionNorm.forward(h));
        return output.MoveToOuterDisposeScope();
    }
}
