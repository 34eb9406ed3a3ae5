using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>
/// A tier over one flat byte range cut into fixed slots, one block each: what the cxl tier is whether its
/// memory is a mapped DAX device or file, or pages bound to a NUMA node. Subclasses only move bytes.
/// </summary>
public abstract class SlottedBlockStore : IKvBlockStore
{
    readonly Stack<int> _freeSlots = new();
    readonly long[] _blockShape;
    readonly ScalarType _dtype;

    protected SlottedBlockStore(int capacityBlocks, long[] blockShape, ScalarType dtype)
    {
        if (capacityBlocks < 1) throw new ArgumentOutOfRangeException(nameof(capacityBlocks), "the cxl tier needs room for at least one block");
        _blockShape = blockShape;
        _dtype = dtype;
        using var probe = empty(1, dtype);
        NumBytesPerBlock = blockShape.Aggregate(1L, (a, b) => a * b) * probe.ElementSize;
        CapacityBlocks = capacityBlocks;
        for (int slot = capacityBlocks - 1; slot >= 0; slot--) _freeSlots.Push(slot);
    }

    public KvTier Tier => KvTier.Cxl;

    public int CapacityBlocks { get; }

    public long NumBytesPerBlock { get; }

    /// <summary>Bytes the whole range takes.</summary>
    public long NumBytesReserved => NumBytesPerBlock * CapacityBlocks;

    public long NumBytes { get; private set; }

    protected abstract void Write(long offset, byte[] bytes);

    protected abstract void Read(long offset, byte[] bytes);

    public object Store(Tensor kv)
    {
        if (!_freeSlots.TryPop(out int slot)) throw new InvalidOperationException("the cxl tier is full");
        using var host = kv.to(CPU).contiguous();
        byte[] bytes = host.bytes.ToArray();
        if (bytes.Length != NumBytesPerBlock) throw new ArgumentException($"a block is {NumBytesPerBlock} bytes, got {bytes.Length}", nameof(kv));
        Write(slot * NumBytesPerBlock, bytes);
        NumBytes += NumBytesPerBlock;
        return slot;
    }

    public Tensor Load(object handle, Device device)
    {
        var bytes = new byte[NumBytesPerBlock];
        Read((int)handle * NumBytesPerBlock, bytes);
        var host = empty(_blockShape, _dtype, CPU);
        host.bytes = bytes;
        if (device.type == DeviceType.CPU) return host;
        using (host) return host.to(device);
    }

    public void Free(object handle)
    {
        _freeSlots.Push((int)handle);
        NumBytes -= NumBytesPerBlock;
    }

    public abstract void Dispose();
}
