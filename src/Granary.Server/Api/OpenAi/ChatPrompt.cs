using System.Text.Json;
using Granary.Model.Tokenization;
using Granary.Server.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>The <c>messages</c> of /v1/chat/completions, rendered with the model's chat template into token ids.</summary>
public static class ChatPrompt
{
    public static int[] Encode(IReadOnlyList<ChatMessageBody?>? messages, ModelFrontend model)
    {
        var chat = Read(messages);
        int[] ids;
        try
        {
            ids = model.EncodeChat(chat);
        }
        catch (ArgumentException e)
        {
            // The template's own rules (e.g. Llama-2 has no turn for some roles).
            throw OpenAiRequestException.Invalid(e.Message, "messages");
        }
        PromptLimits.Check(ids, model, "messages");
        return ids;
    }

    public static IReadOnlyList<ChatMessage> Read(IReadOnlyList<ChatMessageBody?>? messages)
    {
        if (messages is null || messages.Count == 0) throw OpenAiRequestException.Invalid("messages must be a non-empty array", "messages");
        var chat = new List<ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i] ?? throw OpenAiRequestException.Invalid("each message must be an object", $"messages[{i}]");
            if (string.IsNullOrWhiteSpace(message.Role))
                throw OpenAiRequestException.Invalid("each message needs a role", $"messages[{i}].role");
            chat.Add(new ChatMessage(message.Role, ContentText(message.Content, $"messages[{i}].content")));
        }
        return chat;
    }

    /// <summary>A string as is; text parts joined by newlines (as vLLM does); null (an assistant turn with tool calls) as "".</summary>
    static string ContentText(JsonElement? content, string param)
    {
        if (content is not { } element || element.ValueKind == JsonValueKind.Null) return "";
        if (element.ValueKind == JsonValueKind.String) return OpenAiJson.Text(element, param);
        if (element.ValueKind != JsonValueKind.Array)
            throw OpenAiRequestException.Invalid("content must be a string or an array of content parts", param);
        var texts = new List<string>();
        foreach (var part in element.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object
                || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                throw OpenAiRequestException.Invalid("each content part must be an object with a type", param);
            if (OpenAiJson.Text(type, param) != "text")
                throw OpenAiRequestException.Invalid($"Content parts of type \"{type.GetString()}\" are not supported; only \"text\"", param);
            if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw OpenAiRequestException.Invalid("a text content part needs a string \"text\"", param);
            texts.Add(OpenAiJson.Text(text, param));
        }
        return string.Join("\n", texts);
    }
}
