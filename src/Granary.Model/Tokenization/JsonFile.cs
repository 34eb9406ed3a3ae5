using System.Text.Json;

namespace Granary.Model.Tokenization;

/// <summary>Reads the small JSON files of a model folder, turning every failure into a user error.</summary>
internal static class JsonFile
{
    public static JsonDocument Parse(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException error)
        {
            throw TokenizerFileError.Create(path, "not valid JSON: " + error.Message, error);
        }
        catch (IOException error)
        {
            throw TokenizerFileError.Create(path, "cannot be read: " + error.Message, error);
        }
        catch (UnauthorizedAccessException error)
        {
            throw TokenizerFileError.Create(path, "cannot be read: " + error.Message, error);
        }
    }

    public static JsonElement? Property(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    public static string? String(JsonElement element, string name) =>
        Property(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    public static bool? Bool(JsonElement element, string name) =>
        Property(element, name) is { } value && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : null;
}
