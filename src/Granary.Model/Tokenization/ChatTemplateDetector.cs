namespace Granary.Model.Tokenization;

/// <summary>
/// Recognises a chat template family from the Jinja source in tokenizer_config.json by its marker tokens;
/// we format prompts natively instead of interpreting Jinja.
/// </summary>
public static class ChatTemplateDetector
{
    public static ChatTemplateFamily Detect(string? chatTemplate)
    {
        if (string.IsNullOrEmpty(chatTemplate)) return ChatTemplateFamily.None;
        // ChatML is checked first: some ChatML templates mention [INST] in comments, never the reverse.
        if (chatTemplate.Contains("<|im_start|>", StringComparison.Ordinal)) return ChatTemplateFamily.ChatML;
        if (chatTemplate.Contains("<|start_header_id|>", StringComparison.Ordinal)) return ChatTemplateFamily.Llama3;
        if (chatTemplate.Contains("[INST]", StringComparison.Ordinal)) return ChatTemplateFamily.Llama2;
        return ChatTemplateFamily.None;
    }
}
