using System.Text;
using System.Text.Json;

namespace Granary.Model.Tokenization;

/// <summary>
/// Parses an HF tokenizer.json of the byte-level BPE kind (GPT-2, Llama-3, Qwen2). Microsoft.ML.Tokenizers
/// has no tokenizer.json reader, so we pick out vocab, merges, added tokens and the split regex ourselves.
/// </summary>
internal static class HfTokenizerJsonReader
{
    /// <summary>The definition, or null when the file is BPE but not byte-level (e.g. Llama-2's Metaspace).</summary>
    public static HfByteLevelBpeDefinition? Read(string path)
    {
        using var document = JsonFile.Parse(path);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw TokenizerFileError.Create(path, "expected a JSON object");
        if (JsonFile.Property(root, "model") is not { ValueKind: JsonValueKind.Object } model)
            throw TokenizerFileError.Create(path, "expected a \"model\" object");
        string? modelType = JsonFile.String(model, "type");
        if (modelType is not null && modelType != "BPE")
            throw TokenizerFileError.Create(path, $"expected \"model.type\" \"BPE\", found \"{modelType}\"");

        var preTokenizer = JsonFile.Property(root, "pre_tokenizer");
        if (!HfPipelineJson.ContainsType(preTokenizer, "ByteLevel") && !HfPipelineJson.ContainsType(JsonFile.Property(root, "decoder"), "ByteLevel"))
            return null;

        return new HfByteLevelBpeDefinition(
            ReadVocab(model, path),
            ReadMerges(model, path),
            ReadAddedTokens(root, path),
            HfPipelineJson.SplitPattern(preTokenizer, path),
            HfPipelineJson.AddsPrefixSpace(preTokenizer),
            HfPipelineJson.Normalization(JsonFile.Property(root, "normalizer"), path),
            HfPipelineJson.TemplateBosToken(JsonFile.Property(root, "post_processor")));
    }

    private static Dictionary<string, int> ReadVocab(JsonElement model, string path)
    {
        if (JsonFile.Property(model, "vocab") is not { ValueKind: JsonValueKind.Object } vocab)
            throw TokenizerFileError.Create(path, "expected a \"model.vocab\" object of token to id");
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw TokenizerFileError.Create(path, $"\"model.vocab\" entry \"{entry.Name}\" is not a non-negative integer id");
            ids[entry.Name] = id;
        }
        return ids;
    }

    private static List<string> ReadMerges(JsonElement model, string path)
    {
        var merges = new List<string>();
        if (JsonFile.Property(model, "merges") is not { } array) return merges;
        if (array.ValueKind != JsonValueKind.Array) throw TokenizerFileError.Create(path, "expected \"model.merges\" to be a list");
        foreach (var merge in array.EnumerateArray())
        {
            // Older files write "left right"; tokenizers >= 0.20 writes ["left", "right"].
            if (merge.ValueKind == JsonValueKind.String)
                merges.Add(merge.GetString()!);
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
                merges.Add(merge[0].GetString() + " " + merge[1].GetString());
            else
                throw TokenizerFileError.Create(path, $"\"model.merges\" entry {merges.Count} is neither \"a b\" nor [\"a\", \"b\"]");
        }
        return merges;
    }

    private static List<HfAddedToken> ReadAddedTokens(JsonElement root, string path)
    {
        var tokens = new List<HfAddedToken>();
        if (JsonFile.Property(root, "added_tokens") is not { } array) return tokens;
        if (array.ValueKind != JsonValueKind.Array) throw TokenizerFileError.Create(path, "expected \"added_tokens\" to be a list");
        foreach (var token in array.EnumerateArray())
        {
            string? content = JsonFile.String(token, "content");
            if (content is null || JsonFile.Property(token, "id") is not { ValueKind: JsonValueKind.Number } idElement
                || !idElement.TryGetInt32(out int id) || id < 0)
                throw TokenizerFileError.Create(path, $"\"added_tokens\" entry {tokens.Count} needs a \"content\" string and a non-negative \"id\"");
            tokens.Add(new HfAddedToken(id, content, JsonFile.Bool(token, "special") ?? false));
        }
        return tokens;
    }
}
