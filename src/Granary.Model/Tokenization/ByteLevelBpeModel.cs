namespace Granary.Model.Tokenization;

/// <summary>One learned merge: the two tokens (byte-level alphabet) whose concatenation becomes a token.</summary>
public readonly record struct BpeMerge(string Left, string Right);

/// <summary>
/// A trained byte-level BPE tokenizer: tokens by id in GPT-2's byte-to-unicode alphabet (the 256 byte
/// tokens first), merges in priority order, and special tokens with the ids right after the tokens.
/// </summary>
public sealed class ByteLevelBpeModel
{
    public ByteLevelBpeModel(IReadOnlyList<string> tokens, IReadOnlyList<BpeMerge> merges, IReadOnlyList<string> specialTokens)
    {
        Tokens = tokens;
        Merges = merges;
        SpecialTokens = specialTokens;
    }

    /// <summary>Base vocabulary by id: bytes, then merge results.</summary>
    public IReadOnlyList<string> Tokens { get; }

    public IReadOnlyList<BpeMerge> Merges { get; }

    /// <summary>Special tokens; the i-th has id Tokens.Count + i.</summary>
    public IReadOnlyList<string> SpecialTokens { get; }

    /// <summary>Tokens plus special tokens.</summary>
    public int VocabSize => Tokens.Count + SpecialTokens.Count;

    public int SpecialTokenId(string token)
    {
        for (int i = 0; i < SpecialTokens.Count; i++)
            if (SpecialTokens[i] == token) return Tokens.Count + i;
        throw new ArgumentException($"\"{token}\" is not a special token of this model", nameof(token));
    }
}
