using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// Seeded random initialization as HF does for Llama: every matrix ~ N(0, std), biases 0, norm weights 1.
/// Deterministic for a seed on CPU: each tensor draws from one generator in parameter-name order, in fp32,
/// then casts, so fp32 and bf16 models of one seed hold the same values up to rounding.
/// </summary>
public static class WeightInitializer
{
    public static void Initialize(nn.Module model, long seed, double std = 0.02)
    {
        using var generator = new Generator((ulong)seed, new Device(DeviceType.CPU));
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            using var scope = NewDisposeScope();
            Tensor values;
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
                values = ones(parameter.shape, float32);
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
                values = zeros(parameter.shape, float32);
            else
                values = normal(0, std, parameter.shape, float32, generator: generator);
            parameter.copy_(values);
        }
    }
}
