using Granary.TestKit;
using System.Text.RegularExpressions;
using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

/// <summary>
/// A small Llama-2-layout SentencePiece BPE vocabulary: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, the 256 byte-fallback
/// pieces, single characters, and a few hundred "▁word" prefixes of frequent sample-corpus words. Prefixes
/// make every merged piece reachable by merging a shorter piece with one character.
/// </summary>
internal static class SentencePieceTestModel
{
    public const int FirstBytePiece = 3;

    public static List<SentencePieceEntry> Pieces()
    {
        var pieces = new List<SentencePieceEntry>
        {
            new("<unk>", 0, SentencePieceType.Unknown),
            new("<s>", 0, SentencePieceType.Control),
            new("</s>", 0, SentencePieceType.Control),
        };
        for (int b = 0; b < 256; b++) pieces.Add(new SentencePieceEntry($"<0x{b:X2}>", 0, SentencePieceType.Byte));

        const string alphabet = "▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?'\"()[]{}=+-*/_#<>";
        foreach (char c in alphabet) pieces.Add(new SentencePieceEntry(c.ToString(), -1_000_000 - pieces.Count, SentencePieceType.Normal));

        var seen = new HashSet<string>(pieces.Select(p => p.Piece));
        foreach (string prefix in WordPrefixes(maxPieces: 400))
        {
            // Shorter prefixes score higher so they merge first, building the longer ones step by step.
            if (seen.Add(prefix)) pieces.Add(new SentencePieceEntry(prefix, -(prefix.Length * 10_000 + pieces.Count), SentencePieceType.Normal));
        }
        return pieces;
    }

    public static string WriteTo(TempDirectory folder)
    {
        string path = folder.Combine("tokenizer.model");
        SentencePieceModelWriter.Write(path, Pieces());
        return path;
    }

    private static IEnumerable<string> WordPrefixes(int maxPieces)
    {
        var words = Regex.Matches(string.Join(" ", SampleCorpus.Texts), "[a-zA-Z]+")
            .GroupBy(m => m.Value)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => "▁" + g.Key);
        int produced = 0;
        foreach (string word in words)
        {
            for (int length = 2; length <= word.Length; length++)
            {
                yield return word[..length];
                if (++produced >= maxPieces) yield break;
            }
        }
    }
}
