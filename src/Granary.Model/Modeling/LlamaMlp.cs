using Granary.Model.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    readonly LinearLayer _gate, _up, _down;

    public LlamaMlp(ModelConfig config, ScalarType dtype, Device device) : base(nameof(LlamaMlp))
    {
        _gate = new LinearLayer(config.HiddenSize, config.IntermediateSize, config.MlpBias, dtype, device);
        _up = new LinearLayer(config.HiddenSize, config.IntermediateSize, config.MlpBias, dtype, device);
        _down = new LinearLayer(config.IntermediateSize, config.HiddenSize, config.MlpBias, dtype, device);
        register_module("gate_proj", _gate);
        register_module("up_proj", _up);
        register_module("down_proj", _down);
    }

    // x: [T, D] -> [T, D]
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = nn.functional.silu(_gate.forward(x)).mul_(_up.forward(x)); // [T, I]
        return _down.forward(hidden).MoveToOuterDisposeScope();
    }
}
