using System.Text.Json;

namespace Granary.Model.Checkpoints;

/// <summary>
/// The "weight_map" of a Hugging Face <c>model.safetensors.index.json</c>: which shard file holds each tensor.
/// </summary>
internal sealed class ShardIndex
{
    public const string FileName = "model.safetensors.index.json";

    /// <summary>Tensor name → shard file name (a plain name inside the model folder).</summary>
    public required IReadOnlyDictionary<string, string> ShardOfTensor { get; init; }

    public static ShardIndex Load(string indexPath)
    {
        using var document = ParseJson(indexPath);
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("weight_map", out var weightMap)
            || weightMap.ValueKind != JsonValueKind.Object)
        {
            throw CheckpointErrors.InFile(indexPath, "has no \"weight_map\" object");
        }
        var shardOfTensor = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in weightMap.EnumerateObject())
        {
            var shard = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : "";
            // A shard must be a file beside the index: refuse paths that would reach outside the model folder.
            if (shard.Length == 0 || Path.GetFileName(shard) != shard || shard is "." or "..")
            {
                throw CheckpointErrors.InFile(indexPath, $"maps tensor \"{item.Name}\" to \"{shard}\", which is not a file name");
            }
            shardOfTensor[item.Name] = shard;
        }
        return new ShardIndex { ShardOfTensor = shardOfTensor };
    }

    private static JsonDocument ParseJson(string indexPath)
    {
        try
        {
            // Indexes are small (one line per tensor); reading one whole is fine, unlike the shards.
            return JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException error)
        {
            throw CheckpointErrors.InFile(indexPath, $"is not valid JSON ({error.Message})", error);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw CheckpointErrors.InFile(indexPath, $"cannot be read ({error.Message})", error);
        }
    }
}
