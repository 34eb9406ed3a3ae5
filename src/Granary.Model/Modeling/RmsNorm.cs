using Granary.Model.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>Root-mean-square layer norm, computed in fp32 and cast back as HF Llama does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter _weight;
    readonly Scalar _eps; // held for every call (see Scalars)

    public RmsNorm(long size, double eps, ScalarType dtype, Device device) : base(nameof(RmsNorm))
    {
        _eps = eps.ToScalar();
        _weight = new Parameter(empty([size], dtype, device), requires_grad: false);
        register_parameter("weight", _weight);
    }

    // x: [..., D] -> [..., D]
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // NOTE: fp32 skips the two casts (no-ops that still cost a call each, and there are 2L + 1 norms per step).
        if (x.dtype == float32) return (_weight * x.mul(x.square().mean([-1], keepdim: true).add_(_eps, Scalars.One).rsqrt_())).MoveToOuterDisposeScope();
        var x32 = x.to(float32);
        var variance = x32.square().mean([-1], keepdim: true);
        var normalized = (x32 * rsqrt(variance.add(_eps, Scalars.One))).to(x.dtype);
        return (_weight * normalized).MoveToOuterDisposeScope();
    }
}
