using Granary.Model.Tokenization;
using Granary.TestKit;

namespace Granary.Engine.Tests.Speculation;

/// <summary>
/// An 8-token SentencePiece vocabulary (&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, five letters): small enough that
/// the joint distribution of two sampled tokens has 64 cells, which a chi-square test can check.
/// </summary>
public static class TinyVocabulary
{
    public const int Size = 8;

    public static TextTokenizer Load()
    {
        using var folder = new TempDirectory("granary-tiny-vocab");
        var pieces = new List<SentencePieceEntry>
        {
            new("<unk>", 0, SentencePieceType.Unknown),
            new("<s>", 0, SentencePieceType.Control),
            new("</s>", 0, SentencePieceType.Control),
        };
        foreach (char c in "abcde") pieces.Add(new SentencePieceEntry(c.ToString(), -1 - pieces.Count, SentencePieceType.Normal));
        SentencePieceModelWriter.Write(folder.Combine("tokenizer.model"), pieces, addDummyPrefix: false);
        return TextTokenizer.Load(folder.Path);
    }
}
