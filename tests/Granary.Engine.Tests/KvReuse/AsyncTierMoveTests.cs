using Granary.Engine.KvReuse;
using Granary.TestKit;
using static Granary.Engine.Tests.KvReuse.BlockCaches;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.KvReuse;

/// <summary>Moves between tiers run off the caller's thread, in order, and a restore waits for its own block's.</summary>
public sealed class AsyncTierMoveTests
{
    static readonly TimeSpan Hang = TimeSpan.FromSeconds(30); // only a deadlock would take this long

    /// <summary>A host store whose stores wait until the test opens its gate.</summary>
    sealed class GatedStore(IKvBlockStore inner) : IKvBlockStore
    {
        public ManualResetEventSlim Gate { get; } = new(false);

        public int NumStoreCalls;

        public KvTier Tier => inner.Tier;

        public long NumBytes => inner.NumBytes;

        public object Store(Tensor kv)
        {
            Interlocked.Increment(ref NumStoreCalls);
            if (!Gate.Wait(Hang)) throw new TimeoutException("the test never opened the gate");
            return inner.Store(kv);
        }

        public Tensor Load(object handle, Device device) => inner.Load(handle, device);

        public void Free(object handle) => inner.Free(handle);

        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public async Task A_demotion_does_not_wait_for_the_lower_tier_and_a_restore_of_that_block_waits_for_it()
    {
        var host = new GatedStore(TensorBlockStore.HostFor(CPU));
        var storage = new LocalKvBlockStorage(CPU, new TensorBlockStore(KvTier.Device, CPU, pinsMemory: false), host);
        using var cache = new PrefixCache(new KvReuseOptions { BlockSize = BlockSize, DeviceCapacityBlocks = 1, HostCapacityBlocks = 4 }, new SimulatedClock(), storage);
        Keep(cache, "t", Tokens(0, 4));   // A on the device

        // B needs the device: A moves to host while the host store is blocked, and Insert returns anyway.
        await Task.Run(() => Keep(cache, "t", Tokens(10, 4))).WaitAsync(Hang); // times out if Insert waited for the demotion
        Assert.Equal(KvTier.Host, cache.Match("t", Tokens(0, 5), 4).Single().Tier);
        SpinWait.SpinUntil(() => Volatile.Read(ref host.NumStoreCalls) == 1, Hang);
        Assert.Equal(1, host.NumStoreCalls); // the copy has started and is stuck in the store
        // With A's copy stuck in the host store, the next block still goes onto the device at once: a slow lower
        // tier never holds up the caller's own saves (C pushes B down too; B's move waits behind A's).
        await Task.Run(() => Keep(cache, "t", Tokens(20, 4))).WaitAsync(Hang);

        using var restored = Empty(8);
        var matched = cache.Match("t", Tokens(0, 5), 4);
        var restore = Task.Run(() => cache.Restore(matched, restored));
        var first = await Task.WhenAny(restore, Task.Delay(TimeSpan.FromMilliseconds(200)));
        Assert.False(first == restore, "the restore read the block before its move ended");
        host.Gate.Set();
        await restore.WaitAsync(Hang);
        Assert.Equal(Tokens(0, 4), TokensIn(restored));
    }

    [Fact]
    public void Many_moves_in_a_row_keep_their_order_through_a_full_cxl_tier()
    {
        using var folder = new TempDirectory();
        using var cache = New(new SimulatedClock(), deviceBlocks: 1, hostBlocks: 1, cxlBlocks: 2, cxlPath: folder.Path);
        // Each Keep pushes the older blocks one tier down; the cxl store has exactly 2 slots, so a move that ran
        // before the free of the block it replaces would find the store full.
        for (int i = 0; i < 12; i++) Keep(cache, "t", Tokens(100 * i, 4));
        ((LocalKvBlockStorage)cache.Storage).Flush();
        Assert.Equal([1, 1, 2], KvTierNames.All.Select(cache.NumBlocks));
        Assert.Equal(8, cache.NumDropped);
        foreach (int i in new[] { 8, 9 })
        {
            using var restored = Empty(8);
            cache.Restore(cache.Match("t", Tokens(100 * i, 5), 4), restored);
            Assert.Equal(Tokens(100 * i, 4), TokensIn(restored));
        }
    }

    [Fact]
    public void A_prefetched_block_is_restored_without_reading_its_tier_again_and_a_move_drops_the_stale_copy()
    {
        using var cache = New(new SimulatedClock(), deviceBlocks: 1, hostBlocks: 4);
        var storage = (LocalKvBlockStorage)cache.Storage;
        Keep(cache, "t", Tokens(0, 4));   // A
        Keep(cache, "t", Tokens(10, 4));  // B: A → host

        Assert.Equal(1, cache.Prefetch("t", Tokens(0, 5), 4));
        Assert.Equal(0, cache.Prefetch("t", Tokens(10, 5), 4)); // B is on the device already
        storage.Flush();
        Assert.Equal(1, storage.NumPrefetched);
        Assert.Equal(0, cache.NumHits(KvTier.Host)); // a hint: nothing counted, nothing moved
        Assert.Equal(KvTier.Host, cache.Match("t", Tokens(0, 5), 4).Single().Tier);

        using var restored = Empty(8);
        cache.Restore(cache.Match("t", Tokens(0, 5), 4), restored);
        Assert.Equal(Tokens(0, 4), TokensIn(restored));
        Assert.Equal(1, cache.NumHits(KvTier.Host));
        Assert.Equal(0, storage.NumPrefetched);

    }

    [Fact]
    public void A_block_that_moves_after_its_prefetch_is_restored_from_where_it_went()
    {
        using var folder = new TempDirectory();
        using var cache = New(new SimulatedClock(), deviceBlocks: 1, hostBlocks: 1, cxlBlocks: 4, cxlPath: folder.Path);
        var storage = (LocalKvBlockStorage)cache.Storage;
        Keep(cache, "t", Tokens(0, 4));   // A
        Keep(cache, "t", Tokens(10, 4));  // B: A → host
        Assert.Equal(1, cache.Prefetch("t", Tokens(0, 5), 4));
        Keep(cache, "t", Tokens(20, 4));  // C: B → host, A → cxl (its prefetched copy is dropped)
        storage.Flush();
        Assert.Equal(0, storage.NumPrefetched);
        Assert.Equal(KvTier.Cxl, cache.Match("t", Tokens(0, 5), 4).Single().Tier);

        using var restored = Empty(8);
        cache.Restore(cache.Match("t", Tokens(0, 5), 4), restored);
        Assert.Equal(Tokens(0, 4), TokensIn(restored));
        Assert.Equal(1, cache.NumHits(KvTier.Cxl));
    }
}
