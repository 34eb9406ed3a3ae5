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
}
