using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Granary.Model.Tokenization;

/// <summary>Reads the pipeline stages of tokenizer.json (pre_tokenizer, normalizer, post_processor).</summary>
internal static class HfPipelineJson
{
    /// <summary>Whether a stage, or a stage nested in a Sequence, has the given "type".</summary>
    public static bool ContainsType(JsonElement? stage, string type) => Stages(stage).Any(s => JsonFile.String(s, "type") == type);

    /// <summary>
    /// The one regex that splits text into words: a Split stage's pattern, or GPT-2's when a ByteLevel
    /// stage splits by itself (use_regex, on by default).
    /// </summary>
    public static string SplitPattern(JsonElement? preTokenizer, string path)
    {
        var patterns = new List<string>();
        foreach (var stage in Stages(preTokenizer))
        {
            string? type = JsonFile.String(stage, "type");
            if (type == "Split") patterns.Add(SplitStagePattern(stage, path));
            else if (type == "ByteLevel" && (JsonFile.Bool(stage, "use_regex") ?? true)) patterns.Add(PreTokenizerPatterns.Gpt2);
            else if (type != "ByteLevel")
                throw TokenizerFileError.Create(path, $"pre_tokenizer type \"{type}\" is not supported (only Split and ByteLevel)");
        }
        if (patterns.Count != 1)
            throw TokenizerFileError.Create(path, $"expected exactly one split regex in \"pre_tokenizer\", found {patterns.Count}");
        return patterns[0];
    }

    public static bool AddsPrefixSpace(JsonElement? preTokenizer) =>
        Stages(preTokenizer).Any(s => JsonFile.String(s, "type") == "ByteLevel" && (JsonFile.Bool(s, "add_prefix_space") ?? false));

    /// <summary>The Unicode normalization applied before splitting (Qwen2 uses NFC); null for none.</summary>
    public static NormalizationForm? Normalization(JsonElement? normalizer, string path)
    {
        NormalizationForm? form = null;
        foreach (var stage in Stages(normalizer))
        {
            string? type = JsonFile.String(stage, "type");
            form = type switch
            {
                "NFC" => NormalizationForm.FormC,
                "NFD" => NormalizationForm.FormD,
                "NFKC" => NormalizationForm.FormKC,
                "NFKD" => NormalizationForm.FormKD,
                _ => throw TokenizerFileError.Create(path, $"normalizer type \"{type}\" is not supported (only NFC/NFD/NFKC/NFKD)"),
            };
        }
        return form;
    }

    /// <summary>The special token a TemplateProcessing post-processor puts first, e.g. Llama-3's BOS.</summary>
    public static string? TemplateBosToken(JsonElement? postProcessor)
    {
        foreach (var stage in Stages(postProcessor))
        {
            if (JsonFile.String(stage, "type") != "TemplateProcessing") continue;
            if (JsonFile.Property(stage, "single") is not { ValueKind: JsonValueKind.Array } single || single.GetArrayLength() == 0)
                continue;
            if (JsonFile.Property(single[0], "SpecialToken") is { } first) return JsonFile.String(first, "id");
        }
        return null;
    }

    private static string SplitStagePattern(JsonElement stage, string path)
    {
        string behavior = JsonFile.String(stage, "behavior") ?? "Isolated";
        if (behavior != "Isolated" || (JsonFile.Bool(stage, "invert") ?? false))
            throw TokenizerFileError.Create(path, $"Split pre_tokenizer with behavior \"{behavior}\" or invert is not supported");
        var pattern = JsonFile.Property(stage, "pattern");
        string? regex = pattern is { } p ? JsonFile.String(p, "Regex") : null;
        string? literal = pattern is { } q ? JsonFile.String(q, "String") : null;
        string source = regex ?? (literal is not null ? Regex.Escape(literal) : null)
            ?? throw TokenizerFileError.Create(path, "Split pre_tokenizer has no \"pattern\" Regex or String");
        try
        {
            _ = new Regex(source);
        }
        catch (ArgumentException error)
        {
            throw TokenizerFileError.Create(path, "Split pre_tokenizer regex does not compile in .NET: " + error.Message, error);
        }
        return source;
    }

    /// <summary>The stage itself, or the members of a Sequence (recursively), in order.</summary>
    private static IEnumerable<JsonElement> Stages(JsonElement? stage)
    {
        if (stage is not { ValueKind: JsonValueKind.Object } element) yield break;
        string? type = JsonFile.String(element, "type");
        var members = type == "Sequence"
            ? JsonFile.Property(element, "pretokenizers") ?? JsonFile.Property(element, "normalizers")
              ?? JsonFile.Property(element, "processors") ?? JsonFile.Property(element, "decoders")
            : null;
        if (members is not { ValueKind: JsonValueKind.Array } list)
        {
            if (type != "Sequence") yield return element;
            yield break;
        }
        foreach (var member in list.EnumerateArray())
            foreach (var inner in Stages(member))
                yield return inner;
    }
}
