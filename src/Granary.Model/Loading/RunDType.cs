using Granary.Abstractions;
using static TorchSharp.torch;

namespace Granary.Model.Loading;

/// <summary>The dtype names users type (fp32, bf16, fp16) and HF writes (float32, bfloat16, float16).</summary>
public static class RunDType
{
    public static ScalarType Parse(string name, string what) => TryParse(name)
        ?? throw new GranaryUserError($"{what}: unknown dtype \"{name}\"; use fp32, bf16 or fp16");

    public static ScalarType? TryParse(string? name) => name?.ToLowerInvariant() switch
    {
        "fp32" or "float32" or "float" or "f32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "float16" or "half" or "f16" => ScalarType.Float16,
        _ => null,
    };

    public static string HfName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a run dtype"),
    };
}
