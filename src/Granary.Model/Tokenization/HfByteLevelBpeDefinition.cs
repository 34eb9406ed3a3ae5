using System.Text;

namespace Granary.Model.Tokenization;

/// <summary>An entry of tokenizer.json's "added_tokens": matched literally in text, special or not.</summary>
internal sealed record HfAddedToken(int Id, string Content, bool Special);

/// <summary>The parts of an HF byte-level BPE tokenizer.json that encoding and decoding need.</summary>
internal sealed record HfByteLevelBpeDefinition(
    IReadOnlyDictionary<string, int> Vocab,
    IReadOnlyList<string> Merges,
    IReadOnlyList<HfAddedToken> AddedTokens,
    string SplitPattern,
    bool AddPrefixSpace,
    NormalizationForm? Normalization,
    string? TemplateBosToken);
