using System.Text.Json;
using Granary.Server.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>The <c>prompt</c> of /v1/completions as token ids: text, one text in an array, or token ids.</summary>
public static class CompletionPrompt
{
    public static int[] Encode(JsonElement? prompt, ModelFrontend model)
    {
        if (prompt is not { } element || element.ValueKind == JsonValueKind.Null) throw Invalid("prompt is required");
        int[] ids = element.ValueKind switch
        {
            JsonValueKind.String => model.EncodePrompt(OpenAiJson.Text(element, "prompt")),
            JsonValueKind.Array => EncodeArray(element, model),
            _ => throw Invalid("prompt must be a string, an array with one string, or an array of token ids"),
        };
        PromptLimits.Check(ids, model, "prompt");
        return ids;
    }

    static int[] EncodeArray(JsonElement array, ModelFrontend model)
    {
        int length = array.GetArrayLength();
        if (length == 0) throw Invalid("prompt must not be an empty array");
        var first = array[0];
        if (first.ValueKind == JsonValueKind.String)
            return length == 1
                ? model.EncodePrompt(OpenAiJson.Text(first, "prompt"))
                : throw Invalid("Only one prompt per request is supported; send the others as separate requests");
        var ids = new int[length];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out ids[i++]))
                throw Invalid("prompt must be a string, an array with one string, or an array of token ids");
        }
        return ids;
    }

    static OpenAiRequestException Invalid(string message) => OpenAiRequestException.Invalid(message, "prompt");
}
