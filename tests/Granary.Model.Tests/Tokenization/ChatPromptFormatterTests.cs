using Granary.TestKit;
using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

public sealed class ChatPromptFormatterTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new("system", "You are terse."),
        new("user", "Hi!"),
        new("assistant", "Hello."),
        new("user", "What is 2+2?"),
    ];

    [Fact]
    public void ChatML()
    {
        Assert.Equal(
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
            + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            ChatPromptFormatter.Format(ChatTemplateFamily.ChatML, Conversation, addGenerationPrompt: true));
    }

    [Fact]
    public void Llama3()
    {
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n",
            ChatPromptFormatter.Format(ChatTemplateFamily.Llama3, Conversation, addGenerationPrompt: true));
    }

    [Fact]
    public void Llama2_folds_the_system_prompt_into_the_first_user_turn()
    {
        Assert.Equal(
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] What is 2+2? [/INST]",
            ChatPromptFormatter.Format(ChatTemplateFamily.Llama2, Conversation, addGenerationPrompt: true));
    }

    [Fact]
    public void Without_generation_prompt_and_without_system()
    {
        ChatMessage[] single = [new("user", "  Hi!  ")];
        Assert.Equal("<|im_start|>user\n  Hi!  <|im_end|>\n", ChatPromptFormatter.Format(ChatTemplateFamily.ChatML, single, false));
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
            ChatPromptFormatter.Format(ChatTemplateFamily.Llama3, single, false));
        Assert.Equal("<s>[INST] Hi! [/INST]", ChatPromptFormatter.Format(ChatTemplateFamily.Llama2, single, false));
        Assert.Equal("  Hi!  ", ChatPromptFormatter.Format(ChatTemplateFamily.None, single, true));
    }

    [Fact]
    public void Llama2_rejects_roles_it_cannot_express()
    {
        ChatMessage[] messages = [new("user", "a"), new("tool", "b")];
        Assert.Throws<ArgumentException>(() => ChatPromptFormatter.Format(ChatTemplateFamily.Llama2, messages, true));
    }

    [Theory]
    [InlineData("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{% endfor %}", ChatTemplateFamily.ChatML)]
    [InlineData("{{ bos_token }}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}", ChatTemplateFamily.Llama3)]
    [InlineData("{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", ChatTemplateFamily.Llama2)]
    [InlineData("{{ messages[0]['content'] }}", ChatTemplateFamily.None)]
    [InlineData(null, ChatTemplateFamily.None)]
    public void Detects_the_family_from_template_source(string? template, ChatTemplateFamily expected)
    {
        Assert.Equal(expected, ChatTemplateDetector.Detect(template));
    }

    [Theory]
    [InlineData(ChatTemplateFamily.ChatML)]
    [InlineData(ChatTemplateFamily.Llama3)]
    [InlineData(ChatTemplateFamily.Llama2)]
    [InlineData(ChatTemplateFamily.None)]
    public void Written_config_is_detected_as_its_family(ChatTemplateFamily family)
    {
        using var folder = new TempDirectory();
        var markers = ChatPromptFormatter.MarkerTokens(family);
        var model = ByteLevelBpeTrainer.Train(SampleCorpus.Texts, 400, markers);
        TokenizerJsonWriter.Write(folder.Combine("tokenizer.json"), model);
        TokenizerConfigWriter.Write(folder.Path, markers[0], markers.Count > 1 ? markers[1] : markers[0], family);

        var tokenizer = TextTokenizer.Load(folder.Path);

        Assert.Equal(family, tokenizer.ChatTemplate);
        Assert.Equal(family is ChatTemplateFamily.Llama2 or ChatTemplateFamily.Llama3, tokenizer.AddBosToken);
        // Every marker of the family's prompt encodes as one id, so formatted prompts round-trip.
        string prompt = ChatPromptFormatter.Format(family, Conversation.Skip(1).ToArray(), addGenerationPrompt: true);
        var ids = tokenizer.Encode(prompt, addBos: false);
        Assert.Equal(prompt, tokenizer.Decode(ids));
        foreach (string marker in markers.Where(prompt.Contains))
            Assert.Contains(model.SpecialTokenId(marker), ids);
    }
}
