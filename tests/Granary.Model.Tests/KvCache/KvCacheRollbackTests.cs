using Granary.Model.KvCache;
using static TorchSharp.torch;

namespace Granary.Model.Tests.KvCache;

/// <summary>Truncating a cache (rejected speculative tokens) and writing on leaves what a cache that never held them has.</summary>
public sealed class KvCacheRollbackTests
{
    static (Tensor Keys, Tensor Values) Tokens(int first, int count) // [kvHeads 1, count, headDim 4]
    {
        var keys = arange(first * 4, (first + count) * 4, dtype: float32).view(1, count, 4);
        return (keys, -keys);
    }

    static void Append(SequenceKvCache cache, int first, int count)
    {
        var (keys, values) = Tokens(first, count);
        for (int layer = 0; layer < 2; layer++) cache.Write(layer, keys, values);
        cache.Advance(count);
    }

    [Fact]
    public void Truncate_then_append_equals_never_having_written_the_rejected_positions()
    {
        using var pool = new KvCachePool(numLayers: 2, numKvHeads: 1, headDim: 4, ScalarType.Float32, CPU);
        using var speculated = new SequenceKvCache(pool, 16);
        using var plain = new SequenceKvCache(pool, 16);
        Append(speculated, 0, 3);
        Append(speculated, 100, 4); // four speculative positions...
        speculated.Truncate(4);     // ...of which one was accepted
        Append(speculated, 200, 2);

        Append(plain, 0, 3);
        Append(plain, 100, 1);
        Append(plain, 200, 2);

        Assert.Equal(plain.Length, speculated.Length);
        for (int layer = 0; layer < 2; layer++)
        {
            var (k1, v1) = speculated.Read(layer, 0);
            var (k2, v2) = plain.Read(layer, 0);
            Assert.True(k1.allclose(k2, rtol: 0, atol: 0) && v1.allclose(v2, rtol: 0, atol: 0), $"layer {layer} differs");
        }
    }

    [Fact]
    public void Truncate_rejects_lengths_outside_what_is_stored()
    {
        using var cache = new SequenceKvCache(1, 1, 4, 8, ScalarType.Float32, CPU);
        cache.Advance(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(-1));
    }
}
