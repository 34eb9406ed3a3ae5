using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Checkpoints;

/// <summary>
/// Writes tensors as safetensors files, each in its own dtype, streaming one tensor at a time so that no
/// whole file is ever built in memory. Used for test fixtures and for saving converted checkpoints.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes one safetensors file, tensors in the order given.</summary>
    public static void Write(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = BuildHeader(tensors, metadata);
        try
        {
            using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var (_, tensor) in tensors)
            {
                WriteTensorBytes(stream, tensor);
            }
        }
        catch
        {
            // A half-written file would later read as "truncated"; leave nothing rather than that.
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// Writes Hugging Face style shards <c>model-0000i-of-0000n.safetensors</c> of at most
    /// <paramref name="maxShardBytes"/> tensor bytes each (a larger tensor gets a shard to itself), plus
    /// <c>model.safetensors.index.json</c>, always — even when one shard would do.
    /// </summary>
    public static void WriteSharded(string dir, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, long maxShardBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        System.IO.Directory.CreateDirectory(dir);
        var shards = PlanShards(tensors, maxShardBytes);
        var shardOfTensor = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < shards.Count; i++)
        {
            var shardName = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Write(Path.Combine(dir, shardName), shards[i]);
            foreach (var (name, _) in shards[i])
            {
                shardOfTensor[name] = shardName;
            }
        }
        var totalBytes = tensors.Sum(pair => ByteLength(pair.Value));
        WriteIndex(Path.Combine(dir, ShardIndex.FileName), totalBytes, shardOfTensor);
    }

    private static List<List<KeyValuePair<string, Tensor>>> PlanShards(IReadOnlyList<KeyValuePair<string, Tensor>> tensors, long maxShardBytes)
    {
        var shards = new List<List<KeyValuePair<string, Tensor>>>();
        var current = new List<KeyValuePair<string, Tensor>>();
        long currentBytes = 0;
        foreach (var pair in tensors)
        {
            var bytes = ByteLength(pair.Value);
            if (current.Count > 0 && currentBytes + bytes > maxShardBytes)
            {
                shards.Add(current);
                current = [];
                currentBytes = 0;
            }
            current.Add(pair);
            currentBytes += bytes;
        }
        if (current.Count > 0 || shards.Count == 0)
        {
            shards.Add(current);
        }
        return shards;
    }

    /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes as the Hugging Face writer does,
    /// so that the data section (and every 8-byte-aligned tensor in it) starts aligned.</summary>
    private static byte[] BuildHeader(IReadOnlyList<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            WriteMetadata(json, metadata);
            WriteEntries(json, tensors);
            json.WriteEndObject();
        }
        var padding = (int)((8 - buffer.Length % 8) % 8);
        buffer.Write(Enumerable.Repeat((byte)' ', padding).ToArray());
        return buffer.ToArray();
    }

    private static void WriteMetadata(Utf8JsonWriter json, IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null || metadata.Count == 0)
        {
            return;
        }
        json.WriteStartObject("__metadata__");
        foreach (var (key, value) in metadata)
        {
            json.WriteString(key, value);
        }
        json.WriteEndObject();
    }

    private static void WriteEntries(Utf8JsonWriter json, IReadOnlyList<KeyValuePair<string, Tensor>> tensors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            if (name == "__metadata__" || !names.Add(name))
            {
                throw new ArgumentException($"tensor name \"{name}\" is reserved or repeated", nameof(tensors));
            }
            var length = ByteLength(tensor);
            json.WriteStartObject(name);
            json.WriteString("dtype", SafetensorsDTypes.FromScalarType(tensor.dtype).HeaderName());
            json.WriteStartArray("shape");
            foreach (var size in tensor.shape)
            {
                json.WriteNumberValue(size);
            }
            json.WriteEndArray();
            json.WriteStartArray("data_offsets");
            json.WriteNumberValue(offset);
            json.WriteNumberValue(offset + length);
            json.WriteEndArray();
            json.WriteEndObject();
            offset += length;
        }
    }

    private static unsafe void WriteTensorBytes(Stream stream, Tensor tensor)
    {
        if (tensor.numel() == 0)
        {
            return;
        }
        using var scope = NewDisposeScope();
        // Already-contiguous CPU tensors pass through both calls without a copy.
        var contiguous = tensor.cpu().contiguous();
        TensorMemory.WriteTo(stream, TensorMemory.DataPointer(contiguous), ByteLength(contiguous));
    }

    private static void WriteIndex(string path, long totalBytes, SortedDictionary<string, string> shardOfTensor)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", totalBytes);
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (name, shard) in shardOfTensor)
        {
            json.WriteString(name, shard);
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static long ByteLength(Tensor tensor) => tensor.numel() * tensor.element_size();
}
