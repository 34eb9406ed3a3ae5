using Granary.Model.Runtime;
using Granary.Model.Sharding;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// The second half of a Megatron pair (attention's o_proj, the MLP's down_proj): holds input columns
/// [start, start + count) of the checkpoint's weight, multiplies the rank's slice of the activations, and
/// all-reduces the partial products over the group; the bias (whole on every rank) is added once, after the
/// sum. With a group of one it is an ordinary linear layer.
/// </summary>
public sealed class RowParallelLinear : nn.Module<Tensor, Tensor>, ISlicedParameters
{
    readonly Parameter _weight;
    readonly Parameter? _bias;
    readonly ITensorParallelGroup _group;
    readonly (WeightSlice, long)? _inputSlice;

    public RowParallelLinear(long inFeatures, long start, long count, long outFeatures, bool hasBias, ITensorParallelGroup group, ScalarType dtype, Device device)
        : base(nameof(RowParallelLinear))
    {
        _group = group;
        _inputSlice = count == inFeatures ? null : (new WeightSlice(1, start, count), inFeatures);
        _weight = new Parameter(WeightLayout.NewProjectionWeight(outFeatures, count, dtype, device), requires_grad: false);
        register_parameter("weight", _weight);
        if (hasBias)
        {
            _bias = new Parameter(empty([outFeatures], dtype, device), requires_grad: false);
            register_parameter("bias", _bias);
        }
    }

    public Tensor Weight => _weight;

    // x: [..., count] (this rank's slice) -> [..., out]
    public override Tensor forward(Tensor x)
    {
        if (_group.Size == 1) return nn.functional.linear(x, _weight, _bias);
        using var partial = nn.functional.linear(x, _weight);
        var sum = _group.AllReduceSum(partial);
        return _bias is null ? sum : sum.add_(_bias, Scalars.One);
    }

    public (WeightSlice Slice, long FullLength)? SliceOf(string parameterName) => parameterName == "weight" ? _inputSlice : null;
}
