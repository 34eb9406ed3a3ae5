using Granary.Model.Configuration;
using Granary.Model.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// SwiGLU feed-forward: down(silu(gate(x)) * up(x)). Under tensor parallelism gate/up hold the rank's
/// columns and down the matching rows, whose partial products are all-reduced.
/// </summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    readonly LinearLayer _gate, _up;
    readonly RowParallelLinear _down;

    public LlamaMlp(ModelConfig config, ScalarType dtype, Device device, TensorParallelLayout? split = null, ITensorParallelGroup? group = null)
        : base(nameof(LlamaMlp))
    {
        split ??= TensorParallelLayout.For(config, 0, 1);
        long width = config.IntermediateSize;
        _gate = LinearLayer.ColumnParallel(config.HiddenSize, width, split.MlpStart, split.MlpSize, config.MlpBias, dtype, device);
        _up = LinearLayer.ColumnParallel(config.HiddenSize, width, split.MlpStart, split.MlpSize, config.MlpBias, dtype, device);
        _down = new RowParallelLinear(width, split.MlpStart, split.MlpSize, config.HiddenSize, config.MlpBias, group ?? SingleRankGroup.Instance, dtype, device);
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
