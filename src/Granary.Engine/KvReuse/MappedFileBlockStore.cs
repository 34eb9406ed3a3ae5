using System.IO.MemoryMappedFiles;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>
/// The cxl tier as a memory-mapped DAX device or file: fixed-size slots, one block each. CXL Type-3 memory
/// appears to Linux either as a NUMA node or, through devdax/fsdax, as a device that is mapped like a file;
/// this store covers the second (and any file, which is what tests use). A directory path gets a file of
/// its own, sized for the capacity and deleted on dispose; a device or an existing file is mapped as it is
/// and must be large enough.
/// </summary>
public sealed class MappedFileBlockStore : IKvBlockStore
{
    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;
    readonly Stack<int> _freeSlots = new();
    readonly string? _ownedFile;
    readonly long[] _blockShape;
    readonly ScalarType _dtype;

    public MappedFileBlockStore(string path, int capacityBlocks, long[] blockShape, ScalarType dtype)
    {
        _blockShape = blockShape;
        _dtype = dtype;
        using var probe = empty(1, dtype);
        NumBytesPerBlock = blockShape.Aggregate(1L, (a, b) => a * b) * probe.ElementSize;
        long size = NumBytesPerBlock * capacityBlocks;
        if (Directory.Exists(path))
        {
            _ownedFile = Path.Combine(path, $"granary-kv-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
            _file = MemoryMappedFile.CreateFromFile(_ownedFile, FileMode.CreateNew, null, size, MemoryMappedFileAccess.ReadWrite);
        }
        else if (File.Exists(path))
        {
            _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        }
        else throw new DirectoryNotFoundException($"the cxl path {path} does not exist");
        _view = _file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
        for (int slot = capacityBlocks - 1; slot >= 0; slot--) _freeSlots.Push(slot);
    }

    public KvTier Tier => KvTier.Cxl;

    public long NumBytesPerBlock { get; }

    public long NumBytes { get; private set; }

    public object Store(Tensor kv)
    {
        if (!_freeSlots.TryPop(out int slot)) throw new InvalidOperationException("the cxl tier is full");
        using var host = kv.to(CPU).contiguous();
        byte[] bytes = host.bytes.ToArray();
        if (bytes.Length != NumBytesPerBlock) throw new ArgumentException($"a block is {NumBytesPerBlock} bytes, got {bytes.Length}", nameof(kv));
        _view.WriteArray(slot * NumBytesPerBlock, bytes, 0, bytes.Length);
        NumBytes += NumBytesPerBlock;
        return slot;
    }

    public Tensor Load(object handle, Device device)
    {
        int slot = (int)handle;
        var bytes = new byte[NumBytesPerBlock];
        _view.ReadArray(slot * NumBytesPerBlock, bytes, 0, bytes.Length);
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

    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
        if (_ownedFile is not null) File.Delete(_ownedFile);
    }
}
