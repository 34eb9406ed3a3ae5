using System.IO.MemoryMappedFiles;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Checkpoints;

/// <summary>
/// One safetensors file, its header checked and its bytes memory-mapped read-only. Reads copy straight from
/// the mapping into a fresh tensor's memory (one copy), then convert to the asked dtype and device.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile mapping;
    private readonly MemoryMappedViewAccessor view;
    private readonly long dataStart;
    private byte* mappedStart;

    private SafetensorsFile(string path, SafetensorsHeader header, MemoryMappedFile mapping, MemoryMappedViewAccessor view, long dataStart)
    {
        Path = path;
        Tensors = header.Tensors;
        Metadata = header.Metadata;
        this.mapping = mapping;
        this.view = view;
        this.dataStart = dataStart;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref mappedStart);
        // The view may begin before the file offset asked for (page alignment); PointerOffset says by how much.
        mappedStart += view.PointerOffset;
    }

    /// <summary>The file's path as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    public IReadOnlyDictionary<string, TensorEntry> Tensors { get; }

    /// <summary>The header's "__metadata__" strings (empty when it has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens, checks and maps a safetensors file; <see cref="Granary.Abstractions.GranaryUserError"/> when it is missing or malformed.</summary>
    public static SafetensorsFile Open(string path)
    {
        try
        {
            return OpenChecked(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw CheckpointErrors.InFile(path, $"cannot be read ({error.Message})", error);
        }
    }

    /// <summary>The header entry for <paramref name="name"/>; a user error naming the tensor and file when absent.</summary>
    public TensorEntry Info(string name) =>
        Tensors.TryGetValue(name, out var entry)
            ? entry
            : throw CheckpointErrors.InFile(Path, $"has no tensor \"{name}\"");

    public bool Contains(string name) => Tensors.ContainsKey(name);

    /// <summary>The whole tensor, converted to <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    public Tensor Read(string name, ScalarType dtype, Device device)
    {
        var entry = Info(name);
        return Load(entry, SliceLayout.Whole(entry), dtype, device);
    }

    /// <summary>
    /// Elements [<paramref name="start"/>, start + <paramref name="length"/>) along <paramref name="dim"/>
    /// (negative counts from the end), reading only those bytes. <paramref name="length"/> -1 means to the end.
    /// </summary>
    public Tensor ReadSlice(string name, int dim, long start, long length, ScalarType dtype, Device device)
    {
        var entry = Info(name);
        return Load(entry, SliceLayout.Of(entry, dim, start, length), dtype, device);
    }

    private Tensor Load(TensorEntry entry, SliceLayout slice, ScalarType dtype, Device device)
    {
        ObjectDisposedException.ThrowIf(mappedStart == null, this);
        var fileType = entry.DType.ToScalarType()
            ?? throw CheckpointErrors.InFile(Path, $"tensor \"{entry.Name}\" has dtype {entry.DType.HeaderName()}, which Granary cannot load");
        using var scope = NewDisposeScope();
        var loaded = empty(slice.Shape, fileType);
        CopySlice(entry, slice, loaded);
        return loaded.to(dtype, device).MoveToOuterDisposeScope();
    }

    private void CopySlice(TensorEntry entry, SliceLayout slice, Tensor target)
    {
        if (slice.TotalBytes == 0)
        {
            return;
        }
        var source = mappedStart + dataStart + entry.DataBegin + slice.FirstByte;
        var destination = TensorMemory.DataPointer(target);
        for (long block = 0; block < slice.BlockCount; block++)
        {
            Buffer.MemoryCopy(source + block * slice.BlockStride, destination + block * slice.BlockBytes, slice.BlockBytes, slice.BlockBytes);
        }
    }

    public void Dispose()
    {
        if (mappedStart == null)
        {
            return;
        }
        mappedStart = null;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        mapping.Dispose();
    }

    private static SafetensorsFile OpenChecked(string path)
    {
        if (!File.Exists(path))
        {
            throw CheckpointErrors.InFile(path, "file not found");
        }
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        MemoryMappedFile? mapping = null;
        try
        {
            var fileLength = stream.Length;
            var json = ReadHeaderJson(path, stream, fileLength);
            var header = SafetensorsHeader.Parse(path, json, fileLength);
            // The mapping takes over the stream. Mapping a 0-byte file fails; the checks above rule that out.
            mapping = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = mapping.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafetensorsFile(path, header, mapping, view, 8L + json.Length);
        }
        catch
        {
            mapping?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    private static byte[] ReadHeaderJson(string path, FileStream stream, long fileLength)
    {
        if (fileLength < 8)
        {
            throw CheckpointErrors.InFile(path, $"truncated — the file has {fileLength} bytes, fewer than the 8-byte header length");
        }
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        var jsonLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (jsonLength == 0 || jsonLength > SafetensorsHeader.MaxJsonBytes || (long)jsonLength > fileLength - 8)
        {
            throw CheckpointErrors.InFile(path,
                $"not a safetensors file — header length {jsonLength} does not fit a {fileLength}-byte file (limit {SafetensorsHeader.MaxJsonBytes})");
        }
        var json = new byte[jsonLength];
        stream.ReadExactly(json);
        return json;
    }
}
