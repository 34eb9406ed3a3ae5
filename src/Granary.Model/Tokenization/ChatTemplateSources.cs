namespace Granary.Model.Tokenization;

/// <summary>
/// Jinja chat templates, one per family, that render what <see cref="ChatPromptFormatter"/> produces;
/// written into tokenizer_config.json so HF tools format prompts the way Granary does.
/// </summary>
public static class ChatTemplateSources
{
    private const string ChatML =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private const string Llama3 =
        "{{ bos_token }}{% for message in messages %}"
        + "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
        + "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    private const string Llama2 =
        "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{% set loop_messages = messages[1:] %}"
        + "{% else %}{% set system_message = false %}{% set loop_messages = messages %}{% endif %}"
        + "{% for message in loop_messages %}"
        + "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        + "{% else %}{% set content = message['content'] %}{% endif %}"
        + "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}"
        + "{% elif message['role'] == 'assistant' %}{{ ' ' + content | trim + ' ' + eos_token }}{% endif %}"
        + "{% endfor %}";

    /// <summary>The template source, or null for <see cref="ChatTemplateFamily.None"/>.</summary>
    public static string? For(ChatTemplateFamily family) => family switch
    {
        ChatTemplateFamily.ChatML => ChatML,
        ChatTemplateFamily.Llama3 => Llama3,
        ChatTemplateFamily.Llama2 => Llama2,
        _ => null,
    };
}
