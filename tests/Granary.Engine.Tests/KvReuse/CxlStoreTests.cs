using Granary.Engine.KvReuse;
using Granary.TestKit;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.KvReuse;

public sealed class CxlStoreTests
{
    static readonly long[] Shape = [2, 2, 1, 4, 3];

    static void AssertRoundTrips(IKvBlockStore store)
    {
        using var a = randn(Shape);
        using var b = randn(Shape);
        var handleA = store.Store(a);
        var handleB = store.Store(b);
        using (var back = store.Load(handleA, CPU)) Assert.True(back.allclose(a, 0, 0));
        store.Free(handleA);
        var handleC = store.Store(a); // reuses the freed slot without touching b
        using (var back = store.Load(handleB, CPU)) Assert.True(back.allclose(b, 0, 0));
        using (var back = store.Load(handleC, CPU)) Assert.True(back.allclose(a, 0, 0));
        Assert.Equal(2 * a.NumberOfElements * 4, store.NumBytes);
    }

    [Fact]
    public void A_mapped_file_keeps_blocks_bit_exact_and_reuses_freed_slots()
    {
        using var folder = new TempDirectory();
        using (var store = new MappedFileBlockStore(folder.Path, 2, Shape, ScalarType.Float32))
        {
            AssertRoundTrips(store);
            Assert.Throws<InvalidOperationException>(() => store.Store(zeros(Shape))); // two slots, both used
        }
        Assert.Empty(Directory.GetFiles(folder.Path)); // its own file goes with it
    }

    [Fact]
    public void A_missing_cxl_path_is_refused()
    {
        using var folder = new TempDirectory();
        var error = Assert.Throws<DirectoryNotFoundException>(() => new MappedFileBlockStore(folder.Combine("nope"), 2, Shape, ScalarType.Float32));
        Assert.Contains("nope", error.Message);
    }

    [Fact]
    public void Memory_bound_to_an_existing_numa_node_keeps_blocks_and_an_absent_node_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new NumaBlockStore(4095, 2, Shape, ScalarType.Float32));
        if (!NumaBlockStore.NodeExists(0)) return; // not Linux with NUMA sysfs: nothing more to check here
        using var store = new NumaBlockStore(0, 3, Shape, ScalarType.Float32);
        AssertRoundTrips(store);
    }
}
