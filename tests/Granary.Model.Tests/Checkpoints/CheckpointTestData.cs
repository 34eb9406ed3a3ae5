using Granary.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Checkpoints;

/// <summary>Seeded random tensors and byte-level comparisons for the checkpoint tests.</summary>
internal static class CheckpointTestData
{
    /// <summary>Normal random values of <paramref name="dtype"/>, reproducible from <paramref name="seed"/>.</summary>
    public static Tensor Random(ulong seed, ScalarType dtype, params long[] shape)
    {
        using var generator = new Generator(seed);
        using var values = randn(shape, ScalarType.Float32, generator: generator);
        return values.to(dtype);
    }

    /// <summary>A few tensors of the float dtypes checkpoints hold, with mixed ranks.</summary>
    public static List<KeyValuePair<string, Tensor>> MixedFloats(ulong seed) =>
    [
        new("embed.weight", Random(seed, ScalarType.BFloat16, 64, 32)),
        new("layers.0.attn.q.weight", Random(seed + 1, ScalarType.Float16, 32, 32)),
        new("layers.0.norm.weight", Random(seed + 2, ScalarType.Float32, 32)),
        new("layers.0.mlp.up.weight", Random(seed + 3, ScalarType.BFloat16, 48, 32)),
        new("layers.1.mlp.up.weight", Random(seed + 4, ScalarType.Float32, 48, 32)),
        new("lm_head.weight", Random(seed + 5, ScalarType.Float16, 64, 32)),
    ];

    /// <summary>The tensor's bytes in row-major order, for bit-exact comparison.</summary>
    public static byte[] BytesOf(Tensor tensor)
    {
        using var contiguous = tensor.cpu().contiguous();
        return contiguous.numel() == 0 ? [] : contiguous.bytes.ToArray();
    }

    public static void AssertBitExact(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(BytesOf(expected), BytesOf(actual));
    }

    public static void DisposeAll(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        foreach (var (_, tensor) in tensors)
        {
            tensor.Dispose();
        }
    }
}
