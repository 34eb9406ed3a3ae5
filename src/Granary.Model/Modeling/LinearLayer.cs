using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// y = x Wᵀ + b with HF parameter names (<c>weight</c> [out, in], <c>bias</c> [out]). Parameters start
/// uninitialized: they are filled from a checkpoint or by <see cref="WeightInitializer"/>, never twice.
/// </summary>
public sealed class LinearLayer : nn.Module<Tensor, Tensor>
{
    readonly Parameter _weight;
    readonly Parameter? _bias;

    public LinearLayer(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype, Device device)
        : base(nameof(LinearLayer))
    {
        _weight = new Parameter(empty([outFeatures, inFeatures], dtype, device), requires_grad: false);
        register_parameter("weight", _weight);
        if (hasBias)
        {
            _bias = new Parameter(empty([outFeatures], dtype, device), requires_grad: false);
            register_parameter("bias", _bias);
        }
    }

    public Tensor Weight => _weight;

    public Tensor? Bias => _bias;

    // x: [..., in] -> [..., out]
    public override Tensor forward(Tensor x) => nn.functional.linear(x, _weight, _bias);
}
