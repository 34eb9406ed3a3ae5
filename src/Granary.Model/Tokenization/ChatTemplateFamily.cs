namespace Granary.Model.Tokenization;

/// <summary>The chat prompt layouts we know how to produce without running a Jinja template.</summary>
public enum ChatTemplateFamily
{
    /// <summary>No chat template: prompts are used as plain text.</summary>
    None,

    /// <summary>Llama-2-chat: &lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt; ... [/INST] answer &lt;/s&gt;.</summary>
    Llama2,

    /// <summary>Llama-3-instruct: &lt;|start_header_id|&gt;role&lt;|end_header_id|&gt; ... &lt;|eot_id|&gt;.</summary>
    Llama3,

    /// <summary>ChatML (Qwen, many others): &lt;|im_start|&gt;role ... &lt;|im_end|&gt;.</summary>
    ChatML,
}
