using static TorchSharp.torch;

namespace Granary.Model.Checkpoints;

/// <summary>The element types the safetensors format names in a header's "dtype" field.</summary>
public enum SafetensorsDType
{
    Bool,
    U8,
    I8,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    I64,
    U64,
    F64,
    F8_E4M3,
    F8_E5M2,
}

/// <summary>Sizes, header names and TorchSharp equivalents of <see cref="SafetensorsDType"/>.</summary>
public static class SafetensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.Bool or SafetensorsDType.U8 or SafetensorsDType.I8 => 1,
        SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.I64 or SafetensorsDType.U64 or SafetensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    /// <summary>The name a header uses for the dtype, e.g. "BF16" or "BOOL".</summary>
    public static string HeaderName(this SafetensorsDType dtype) =>
        dtype == SafetensorsDType.Bool ? "BOOL" : dtype.ToString();

    /// <summary>Parses a header "dtype" string; false for names this reader does not know.</summary>
    public static bool TryParseHeaderName(string name, out SafetensorsDType dtype)
    {
        if (name == "BOOL")
        {
            dtype = SafetensorsDType.Bool;
            return true;
        }
        // Enum.TryParse would also accept numbers and case variants; the format spells names exactly.
        foreach (var candidate in Enum.GetValues<SafetensorsDType>())
        {
            if (candidate != SafetensorsDType.Bool && candidate.ToString() == name)
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    /// <summary>The TorchSharp type holding these bytes unchanged, or null where libtorch 2.x via TorchSharp has none
    /// (unsigned 16/32/64-bit and the FP8 formats).</summary>
    public static ScalarType? ToScalarType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.Bool => ScalarType.Bool,
        SafetensorsDType.U8 => ScalarType.Byte,
        SafetensorsDType.I8 => ScalarType.Int8,
        SafetensorsDType.I16 => ScalarType.Int16,
        SafetensorsDType.F16 => ScalarType.Float16,
        SafetensorsDType.BF16 => ScalarType.BFloat16,
        SafetensorsDType.I32 => ScalarType.Int32,
        SafetensorsDType.F32 => ScalarType.Float32,
        SafetensorsDType.I64 => ScalarType.Int64,
        SafetensorsDType.F64 => ScalarType.Float64,
        _ => null,
    };

    /// <summary>The safetensors dtype for a TorchSharp type; throws for types the format cannot hold.</summary>
    public static SafetensorsDType FromScalarType(ScalarType type) => type switch
    {
        ScalarType.Bool => SafetensorsDType.Bool,
        ScalarType.Byte => SafetensorsDType.U8,
        ScalarType.Int8 => SafetensorsDType.I8,
        ScalarType.Int16 => SafetensorsDType.I16,
        ScalarType.Float16 => SafetensorsDType.F16,
        ScalarType.BFloat16 => SafetensorsDType.BF16,
        ScalarType.Int32 => SafetensorsDType.I32,
        ScalarType.Float32 => SafetensorsDType.F32,
        ScalarType.Int64 => SafetensorsDType.I64,
        ScalarType.Float64 => SafetensorsDType.F64,
        _ => throw new ArgumentException($"safetensors cannot store tensors of type {type}", nameof(type)),
    };
}
