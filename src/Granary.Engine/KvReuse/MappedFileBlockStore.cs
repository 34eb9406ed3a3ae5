using System.IO.MemoryMappedFiles;
using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>
/// The cxl tier as a memory-mapped DAX device or file. CXL Type-3 memory appears to Linux either as a NUMA
/// node (<see cref="NumaBlockStore"/>) or, through devdax/fsdax, as a device mapped like a file; this store
/// covers the second, and any plain file (what tests use). A directory gets a file of its own, sized for the
/// capacity and deleted on dispose; a device or an existing file is mapped as it is and must be large enough
/// (several stores may share one, each from its own <c>offset</c>).
/// </summary>
public sealed class MappedFileBlockStore : SlottedBlockStore
{
    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;
    readonly string? _ownedFile;

    public MappedFileBlockStore(string path, int capacityBlocks, long[] blockShape, ScalarType dtype, long offset = 0) : base(capacityBlocks, blockShape, dtype)
    {
        if (Directory.Exists(path))
        {
            _ownedFile = Path.Combine(path, $"granary-kv-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
            _file = MemoryMappedFile.CreateFromFile(_ownedFile, FileMode.CreateNew, null, NumBytesReserved, MemoryMappedFileAccess.ReadWrite);
        }
        else if (File.Exists(path))
        {
            long length = new FileInfo(path).Length;
            if (length != 0 && length < offset + NumBytesReserved)
                throw new ArgumentException($"the cxl path {path} holds {length} bytes but the tier needs {offset + NumBytesReserved}", nameof(path));
            _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        }
        else throw new DirectoryNotFoundException($"the cxl path {path} does not exist");
        _view = _file.CreateViewAccessor(_ownedFile is null ? offset : 0, NumBytesReserved, MemoryMappedFileAccess.ReadWrite);
    }

    protected override void Write(long offset, byte[] bytes) => _view.WriteArray(offset, bytes, 0, bytes.Length);

    protected override void Read(long offset, byte[] bytes) => _view.ReadArray(offset, bytes, 0, bytes.Length);

    public override void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
        if (_ownedFile is not null) File.Delete(_ownedFile);
    }
}
