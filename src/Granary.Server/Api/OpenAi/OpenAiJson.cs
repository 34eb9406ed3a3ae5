using System.Text.Json;
using System.Text.Json.Serialization;

namespace Granary.Server.Api.OpenAi;

/// <summary>The OpenAI wire format: snake_case names, unknown request fields ignored, nulls written as null.</summary>
public static class OpenAiJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.General)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        // Tokens and text are passed through as-is (e.g. "<" stays "<", not "\u003C"); SSE and JSON bodies
        // are never embedded in HTML.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>
    /// A string field kept as <see cref="JsonElement"/> (a union type): its bytes are only decoded here, so
    /// invalid UTF-8 or a lone surrogate escape (<c>"\ud800"</c>) shows up here, as a 400 naming <paramref name="param"/>.
    /// </summary>
    public static string Text(JsonElement element, string param)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw OpenAiRequestException.Invalid($"{param} holds a string that is not valid Unicode (invalid UTF-8, or a lone surrogate escape)", param);
        }
    }
}
