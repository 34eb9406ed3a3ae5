using System.Text.Json;

namespace Granary.Model.Checkpoints;

/// <summary>
/// The parsed and checked JSON header of one safetensors file: every tensor's dtype, shape and byte range,
/// plus the optional "__metadata__" strings. Checking here means a later read can trust the ranges.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>The reference implementation refuses larger headers; a bigger length means a corrupt file.</summary>
    public const long MaxJsonBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    public required IReadOnlyDictionary<string, TensorEntry> Tensors { get; init; }

    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    /// <param name="path">The file, for error messages and <see cref="TensorEntry.FilePath"/>.</param>
    /// <param name="json">The header bytes (without the 8-byte length prefix).</param>
    /// <param name="fileLength">The whole file's length, to check that every tensor lies inside it.</param>
    public static SafetensorsHeader Parse(string path, byte[] json, long fileLength)
    {
        using var document = ParseJson(path, json);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw CheckpointErrors.InFile(path, "header is not a JSON object");
        }
        var dataStart = 8L + json.Length;
        var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.Name == MetadataKey)
            {
                ReadMetadata(path, property.Value, metadata);
                continue;
            }
            var entry = ReadEntry(path, property.Name, property.Value);
            CheckInsideFile(entry, dataStart, fileLength);
            if (!tensors.TryAdd(entry.Name, entry))
            {
                throw CheckpointErrors.InFile(path, $"header lists tensor \"{entry.Name}\" twice");
            }
        }
        CheckNoOverlap(path, tensors.Values);
        return new SafetensorsHeader { Tensors = tensors, Metadata = metadata };
    }

    private static JsonDocument ParseJson(string path, byte[] json)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException error)
        {
            throw CheckpointErrors.InFile(path, $"header is not valid JSON ({error.Message})", error);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw CheckpointErrors.InFile(path, "\"__metadata__\" is not a JSON object");
        }
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw CheckpointErrors.InFile(path, $"\"__metadata__\" value for \"{item.Name}\" is not a string");
            }
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static TensorEntry ReadEntry(string path, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw CheckpointErrors.InFile(path, $"header entry for tensor \"{name}\" is not a JSON object");
        }
        var dtype = ReadDType(path, name, value);
        var shape = ReadNonNegativeIntegers(path, name, value, "shape");
        var offsets = ReadNonNegativeIntegers(path, name, value, "data_offsets");
        if (offsets.Length != 2 || offsets[0] > offsets[1])
        {
            throw CheckpointErrors.InFile(path, $"tensor \"{name}\" has data_offsets that are not [begin, end] with begin <= end");
        }
        var entry = new TensorEntry(name, dtype, shape, offsets[0], offsets[1], path);
        CheckByteLength(path, entry);
        return entry;
    }

    private static SafetensorsDType ReadDType(string path, string name, JsonElement value)
    {
        if (!value.TryGetProperty("dtype", out var field) || field.ValueKind != JsonValueKind.String)
        {
            throw CheckpointErrors.InFile(path, $"tensor \"{name}\" has no \"dtype\" string");
        }
        var text = field.GetString()!;
        if (!SafetensorsDTypes.TryParseHeaderName(text, out var dtype))
        {
            throw CheckpointErrors.InFile(path, $"tensor \"{name}\" has unknown dtype \"{text}\"");
        }
        return dtype;
    }

    private static long[] ReadNonNegativeIntegers(string path, string name, JsonElement value, string field)
    {
        if (!value.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw CheckpointErrors.InFile(path, $"tensor \"{name}\" has no \"{field}\" array");
        }
        var numbers = new long[array.GetArrayLength()];
        var index = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var number) || number < 0)
            {
                throw CheckpointErrors.InFile(path, $"tensor \"{name}\" has a \"{field}\" item that is not a non-negative integer");
            }
            numbers[index++] = number;
        }
        return numbers;
    }

    private static void CheckByteLength(string path, TensorEntry entry)
    {
        long expected;
        try
        {
            expected = checked(entry.Shape.Aggregate(1L, (product, size) => product * size) * entry.DType.ElementSize());
        }
        catch (OverflowException)
        {
            throw CheckpointErrors.InFile(path, $"tensor \"{entry.Name}\" has a shape too large to address");
        }
        if (expected != entry.ByteLength)
        {
            throw CheckpointErrors.InFile(path,
                $"tensor \"{entry.Name}\" spans {entry.ByteLength} bytes but its shape [{string.Join(", ", entry.Shape)}] of {entry.DType.HeaderName()} needs {expected}");
        }
    }

    private static void CheckInsideFile(TensorEntry entry, long dataStart, long fileLength)
    {
        // Offsets can be near long.MaxValue; compare without adding dataStart to them first.
        if (entry.DataEnd > fileLength - dataStart)
        {
            var endsAt = entry.DataEnd > long.MaxValue - dataStart ? "beyond 2^63" : $"at byte {dataStart + entry.DataEnd}";
            throw CheckpointErrors.InFile(entry.FilePath,
                $"truncated — tensor \"{entry.Name}\" ends {endsAt} but the file has {fileLength} bytes");
        }
    }

    private static void CheckNoOverlap(string path, IEnumerable<TensorEntry> entries)
    {
        TensorEntry? previous = null;
        foreach (var entry in entries.Where(e => e.ByteLength > 0).OrderBy(e => e.DataBegin))
        {
            if (previous is not null && entry.DataBegin < previous.DataEnd)
            {
                throw CheckpointErrors.InFile(path, $"tensors \"{previous.Name}\" and \"{entry.Name}\" overlap in the file");
            }
            previous = entry;
        }
    }
}
