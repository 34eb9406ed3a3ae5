using System.Text;

namespace Granary.Model.Tokenization;

/// <summary>
/// Builds the prompt strings that the standard Jinja chat templates of each family produce. The result
/// includes any BOS marker text the template writes (e.g. "&lt;s&gt;", "&lt;|begin_of_text|&gt;"), so encode it
/// with addBos: false.
/// </summary>
public static class ChatPromptFormatter
{
    public static string Format(ChatTemplateFamily family, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return family switch
        {
            ChatTemplateFamily.ChatML => FormatChatML(messages, addGenerationPrompt),
            ChatTemplateFamily.Llama3 => FormatLlama3(messages, addGenerationPrompt),
            ChatTemplateFamily.Llama2 => FormatLlama2(messages),
            // Without a template, a chat is just its texts in order.
            _ => string.Join("\n", messages.Select(m => m.Content)),
        };
    }

    /// <summary>
    /// The added tokens a tokenizer needs so that this family's markers encode as single ids, BOS and EOS
    /// first; used when training a tokenizer for a synthetic model.
    /// </summary>
    public static IReadOnlyList<string> MarkerTokens(ChatTemplateFamily family) => family switch
    {
        ChatTemplateFamily.ChatML => ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        ChatTemplateFamily.Llama3 => ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        ChatTemplateFamily.Llama2 => ["<s>", "</s>"],
        _ => ["<|endoftext|>"],
    };

    private static string FormatChatML(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var prompt = new StringBuilder();
        foreach (var message in messages)
            prompt.Append("<|im_start|>").Append(message.Role).Append('\n').Append(message.Content).Append("<|im_end|>\n");
        if (addGenerationPrompt) prompt.Append("<|im_start|>assistant\n");
        return prompt.ToString();
    }

    private static string FormatLlama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var prompt = new StringBuilder("<|begin_of_text|>");
        foreach (var message in messages)
        {
            prompt.Append("<|start_header_id|>").Append(message.Role).Append("<|end_header_id|>\n\n")
                  .Append(message.Content.Trim()).Append("<|eot_id|>");
        }
        if (addGenerationPrompt) prompt.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        return prompt.ToString();
    }

    private static string FormatLlama2(IReadOnlyList<ChatMessage> messages)
    {
        // Llama-2-chat has no system turn: the system text is folded into the first user turn, and the
        // prompt always ends with " [/INST]" after a user turn, so there is no separate generation prompt.
        string? systemText = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content : null;
        var prompt = new StringBuilder();
        for (int i = systemText is null ? 0 : 1; i < messages.Count; i++)
        {
            var message = messages[i];
            string content = message.Content;
            if (systemText is not null && prompt.Length == 0)
                content = "<<SYS>>\n" + systemText + "\n<</SYS>>\n\n" + content;
            if (message.Role == "user")
                prompt.Append("<s>[INST] ").Append(content.Trim()).Append(" [/INST]");
            else if (message.Role == "assistant")
                prompt.Append(' ').Append(content.Trim()).Append(" </s>");
            else
                throw new ArgumentException($"Llama-2 chat format has no role \"{message.Role}\" after the first message", nameof(messages));
        }
        return prompt.ToString();
    }
}
