using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Granary.Model.Tokenization;

/// <summary>Builds a Microsoft.ML.Tokenizers byte-level BPE tokenizer from an HF tokenizer.json.</summary>
internal static class HfByteLevelBpeLoader
{
    /// <summary>The loaded tokenizer, or null when tokenizer.json is not byte-level BPE.</summary>
    public static TokenizerCore? Load(string path)
    {
        var definition = HfTokenizerJsonReader.Read(path);
        if (definition is null) return null;

        // Every added token is matched literally in text before splitting, special or not (as HF does).
        var addedIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in definition.AddedTokens) addedIds[token.Content] = token.Id;

        BpeTokenizer bpe;
        try
        {
            var split = new Regex(definition.SplitPattern, RegexOptions.Compiled);
            var literal = addedIds.Count > 0 ? addedIds : null;
            bpe = BpeTokenizer.Create(new BpeOptions(definition.Vocab)
            {
                Merges = definition.Merges,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(split, literal),
                SpecialTokens = literal,
            });
        }
        catch (Exception error) when (error is ArgumentException or InvalidOperationException or FormatException)
        {
            throw TokenizerFileError.Create(path, "vocab/merges rejected by the BPE tokenizer: " + error.Message, error);
        }

        var idsByToken = new Dictionary<string, int>(definition.Vocab, StringComparer.Ordinal);
        foreach (var (content, id) in addedIds) idsByToken[content] = id;
        int? templateBos = definition.TemplateBosToken is { } bosName && idsByToken.TryGetValue(bosName, out int bosId) ? bosId : null;
        return new TokenizerCore
        {
            Encode = text => bpe.EncodeToIds(Prepare(text, definition)),
            Table = BuildTable(definition),
            IdsByToken = idsByToken,
            FileBosId = templateBos,
            FileAddsBos = templateBos is not null ? true : null,
        };
    }

    private static string Prepare(string text, HfByteLevelBpeDefinition definition)
    {
        if (definition.Normalization is { } form) text = text.Normalize(form);
        // ByteLevel's add_prefix_space makes the first word look like a word after a space.
        if (definition.AddPrefixSpace && text.Length > 0 && text[0] != ' ') text = " " + text;
        return text;
    }

    private static TokenByteTable BuildTable(HfByteLevelBpeDefinition definition)
    {
        int size = 0;
        foreach (int id in definition.Vocab.Values) size = Math.Max(size, id + 1);
        foreach (var token in definition.AddedTokens) size = Math.Max(size, token.Id + 1);

        var bytes = new byte[size][];
        var special = new bool[size];
        Array.Fill(bytes, []);
        foreach (var (token, id) in definition.Vocab)
            bytes[id] = ByteLevelAlphabet.TryToBytes(token) ?? Encoding.UTF8.GetBytes(token);
        // Added tokens decode to their literal text, even when the vocab also lists them.
        foreach (var token in definition.AddedTokens)
        {
            bytes[token.Id] = Encoding.UTF8.GetBytes(token.Content);
            special[token.Id] = token.Special;
        }
        return new TokenByteTable(bytes, special, stripsFirstSpace: false);
    }
}
