using System.Text.Json;

namespace Granary.Model.Tokenization;

/// <summary>Reads the optional tokenizer_config.json, chat_template.jinja and generation_config.json.</summary>
internal static class TokenizerConfigReader
{
    public const string TokenizerConfigFile = "tokenizer_config.json";
    public const string GenerationConfigFile = "generation_config.json";
    public const string ChatTemplateFile = "chat_template.jinja";

    public static TokenizerConfigValues Read(string modelDir)
    {
        string? bos = null, eos = null, template = null;
        bool? addBos = null;
        string configPath = Path.Combine(modelDir, TokenizerConfigFile);
        if (File.Exists(configPath))
        {
            using var document = JsonFile.Parse(configPath);
            var root = RequireObject(document, configPath);
            bos = TokenName(root, "bos_token", configPath);
            eos = TokenName(root, "eos_token", configPath);
            addBos = JsonFile.Bool(root, "add_bos_token");
            template = ChatTemplateSource(root, configPath);
        }
        // Newer transformers versions keep the template in its own file.
        string templatePath = Path.Combine(modelDir, ChatTemplateFile);
        if (template is null && File.Exists(templatePath)) template = ReadText(templatePath);

        var (generationBos, generationEos) = ReadGenerationConfig(Path.Combine(modelDir, GenerationConfigFile));
        return new TokenizerConfigValues(bos, eos, addBos, template, generationBos, generationEos);
    }

    private static string ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw TokenizerFileError.Create(path, "cannot be read: " + error.Message, error);
        }
    }

    private static JsonElement RequireObject(JsonDocument document, string path) =>
        document.RootElement.ValueKind == JsonValueKind.Object
            ? document.RootElement
            : throw TokenizerFileError.Create(path, "expected a JSON object");

    /// <summary>A token given either as a string or as an AddedToken object {"content": ...}.</summary>
    private static string? TokenName(JsonElement root, string name, string path) => JsonFile.Property(root, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } text => text.GetString(),
        { ValueKind: JsonValueKind.Object } token when JsonFile.String(token, "content") is { } content => content,
        _ => throw TokenizerFileError.Create(path, $"\"{name}\" must be a string or an object with \"content\""),
    };

    /// <summary>The template string, or the "default" one of a list of named templates.</summary>
    private static string? ChatTemplateSource(JsonElement root, string path)
    {
        switch (JsonFile.Property(root, "chat_template"))
        {
            case null:
                return null;
            case { ValueKind: JsonValueKind.String } text:
                return text.GetString();
            case { ValueKind: JsonValueKind.Array } named:
                var templates = named.EnumerateArray().ToList();
                var chosen = templates.FirstOrDefault(t => JsonFile.String(t, "name") == "default");
                if (chosen.ValueKind == JsonValueKind.Undefined && templates.Count > 0) chosen = templates[0];
                return chosen.ValueKind == JsonValueKind.Undefined ? null : JsonFile.String(chosen, "template");
            default:
                throw TokenizerFileError.Create(path, "\"chat_template\" must be a string or a list of {name, template}");
        }
    }

    private static (int? BosId, IReadOnlyList<int> EosIds) ReadGenerationConfig(string path)
    {
        if (!File.Exists(path)) return (null, []);
        using var document = JsonFile.Parse(path);
        var root = RequireObject(document, path);
        int? bos = JsonFile.Property(root, "bos_token_id") switch
        {
            null => null,
            { ValueKind: JsonValueKind.Number } number when number.TryGetInt32(out int id) => id,
            _ => throw TokenizerFileError.Create(path, "\"bos_token_id\" must be an integer"),
        };
        return (bos, EosIds(root, path));
    }

    private static List<int> EosIds(JsonElement root, string path)
    {
        var ids = new List<int>();
        switch (JsonFile.Property(root, "eos_token_id"))
        {
            case null:
                break;
            case { ValueKind: JsonValueKind.Number } number when number.TryGetInt32(out int id):
                ids.Add(id);
                break;
            case { ValueKind: JsonValueKind.Array } list when list.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number):
                ids.AddRange(list.EnumerateArray().Select(e => e.GetInt32()));
                break;
            default:
                throw TokenizerFileError.Create(path, "\"eos_token_id\" must be an integer or a list of integers");
        }
        return ids;
    }
}
