using Granary.Model.KvCache;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Tests.KvCache;

public sealed class KvCachePoolTests
{
    static KvCachePool NewPool() => new(numLayers: 2, numKvHeads: 1, headDim: 4, ScalarType.Float32, new Device(DeviceType.CPU));

    [Fact]
    public void Caches_get_disjoint_ranges_and_a_released_range_is_reused()
    {
        using var pool = NewPool();
        var a = new SequenceKvCache(pool, 10);
        using var b = new SequenceKvCache(pool, 5);
        Assert.Equal(0, a.PoolStart);
        Assert.Equal(10, b.PoolStart);
        a.Dispose();
        using var c = new SequenceKvCache(pool, 4);
        Assert.Equal(0, c.PoolStart);
    }

    [Fact]
    public void Growing_keeps_what_earlier_caches_stored()
    {
        using var pool = NewPool();
        using var first = new SequenceKvCache(pool, 3);
        using var keys = arange(12, dtype: float32).view(1, 3, 4);
        first.Write(1, keys, keys * 2);
        first.Advance(3);
        using var second = new SequenceKvCache(pool, 100); // no room: the storage is reallocated
        Assert.True(pool.NumPositions >= 103);
        var (storedKeys, storedValues) = first.Read(1, 0);
        Assert.True(storedKeys.eq(keys).all().item<bool>());
        Assert.True(storedValues.eq(keys * 2).all().item<bool>());
    }

    [Fact]
    public void Neighbouring_free_ranges_merge_and_the_storage_is_freed_with_the_last_cache()
    {
        using var pool = NewPool();
        var caches = new[] { 4, 4, 4 }.Select(n => new SequenceKvCache(pool, n)).ToArray();
        caches[0].Dispose();
        caches[2].Dispose();
        caches[1].Dispose();
        Assert.Equal(0, pool.NumPositions);
        using var big = new SequenceKvCache(pool, 12);
        Assert.Equal(0, big.PoolStart);
    }

    [Fact]
    public void Disposing_a_cache_twice_releases_its_range_once()
    {
        using var pool = NewPool();
        var a = new SequenceKvCache(pool, 4);
        using var b = new SequenceKvCache(pool, 4);
        a.Dispose();
        a.Dispose();
        using var c = new SequenceKvCache(pool, 4);
        Assert.Equal(0, c.PoolStart);
        Assert.Equal(8, pool.NumPositions);
    }
}
