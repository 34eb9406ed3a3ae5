namespace Granary.Model.Tokenization;

/// <summary>
/// The special tokens a trained tokenizer gets for a chat template family: begin/end of text and the
/// template's role markers, so that prompts of that family tokenize to single marker tokens.
/// </summary>
public sealed record SpecialTokenSet(string Bos, string Eos, ChatTemplateFamily Family)
{
    public static SpecialTokenSet For(ChatTemplateFamily family) => family == ChatTemplateFamily.ChatML
        ? new("<|endoftext|>", "<|im_end|>", family)
        : new("<|begin_of_text|>", "<|end_of_text|>", family);

    /// <summary>All special tokens in id order: bos, eos, then the template's markers.</summary>
    public IReadOnlyList<string> All => new[] { Bos, Eos }.Concat(ChatPromptFormatter.MarkerTokens(Family)).Distinct().ToList();
}
