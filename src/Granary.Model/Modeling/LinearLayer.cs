using Granary.Model.Sharding;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// y = x Wᵀ + b with HF parameter names (<c>weight</c> [out, in], stored transposed (see <see cref="WeightLayout"/>), <c>bias</c> [out]). Parameters start
/// uninitialized: they are filled from a checkpoint or by <see cref="WeightInitializer"/>, never twice.
/// A column-parallel layer (<see cref="ColumnParallel"/>) holds output rows [start, start + count) of the
/// checkpoint's weight and bias: its output is that slice of the full layer's output.
/// </summary>
public sealed class LinearLayer : nn.Module<Tensor, Tensor>, ISlicedParameters
{
    readonly Parameter _weight;
    readonly Parameter? _bias;
    readonly (WeightSlice, long)? _outputSlice;

    public LinearLayer(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device)
        : this(inFeatures, outFeatures, hasBias, dtype, device, outputSlice: null)
    {
    }

    LinearLayer(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device, (WeightSlice, long)? outputSlice)
        : base(nameof(LinearLayer))
    {
        _outputSlice = outputSlice;
        _weight = new Parameter(WeightLayout.NewProjectionWeight(outFeatures, inFeatures, dtype, device), requires_grad: false);
        register_parameter("weight", _weight);
        if (hasBias)
        {
            _bias = new Parameter(empty([outFeatures], dtype, device), requires_grad: false);
            register_parameter("bias", _bias);
        }
    }

    /// <summary>Output features [<paramref name="start"/>, start + <paramref name="count"/>) of a layer with <paramref name="outFeatures"/> outputs.</summary>
    public static LinearLayer ColumnParallel(long inFeatures, long outFeatures, long start, long count, bool hasBias, ScalarType dtype, Device device) =>
        count == outFeatures
            ? new LinearLayer(inFeatures, outFeatures, hasBias, dtype, device)
            : new LinearLayer(inFeatures, count, hasBias, dtype, device, (new WeightSlice(0, start, count), outFeatures));

    public Tensor Weight => _weight;

    public Tensor? Bias => _bias;

    // x: [..., in] -> [..., out]
    public override Tensor forward(Tensor x) => nn.functional.linear(x, _weight, _bias);

    public (WeightSlice Slice, long FullLength)? SliceOf(string parameterName) => _outputSlice;
}
