using Granary.Model.Tokenization;

namespace Granary.Model.Training;

/// <summary>
/// A split of the corpus as one token sequence: each file's tokens followed by the end-of-text token, so
/// the model learns where files end. Keeps each token's length in UTF-8 bytes for bits-per-byte.
/// </summary>
public sealed class TokenStream
{
    TokenStream(int[] tokens, int[] tokenBytes)
    {
        Tokens = tokens;
        TokenBytes = tokenBytes;
    }

    public int[] Tokens { get; }

    /// <summary>UTF-8 bytes each token stands for (0 for special tokens, which are not text).</summary>
    public int[] TokenBytes { get; }

    public int Count => Tokens.Length;

    public static TokenStream Encode(IEnumerable<SourceFile> files, TextTokenizer tokenizer, ByteLevelBpeModel bpe, int eosTokenId)
    {
        var tokens = new List<int>();
        foreach (var file in files)
        {
            tokens.AddRange(tokenizer.Encode(file.Text, addBos: false));
            tokens.Add(eosTokenId);
        }
        var ids = tokens.ToArray();
        // A byte-level BPE token is spelled with one alphabet character per byte.
        var bytes = Array.ConvertAll(ids, id => id < bpe.Tokens.Count ? bpe.Tokens[id].Length : 0);
        return new TokenStream(ids, bytes);
    }
}
