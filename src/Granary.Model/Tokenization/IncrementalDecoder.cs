using System.Text;

namespace Granary.Model.Tokenization;

/// <summary>
/// Streams text while tokens are generated: each <see cref="Push"/> returns only newly completed text and
/// holds back the bytes of a character that is still incomplete, so no U+FFFD halves are emitted. The pieces
/// (plus <see cref="Flush"/>) concatenate to <see cref="TextTokenizer.Decode"/> of all ids. Not thread-safe.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly TokenByteWriter _writer;
    private readonly List<byte> _pending = new();

    internal IncrementalDecoder(TokenByteTable table, bool skipSpecialTokens)
    {
        _writer = new TokenByteWriter(table, skipSpecialTokens);
    }

    /// <summary>Adds one token id; returns the text it completes (often empty mid-character).</summary>
    public string Push(int tokenId)
    {
        _writer.Append(tokenId, _pending);
        int ready = Utf8Boundary.CompletePrefixLength(_pending);
        return TakeText(ready);
    }

    /// <summary>Ends the stream: returns whatever is held back, decoded with replacement characters.</summary>
    public string Flush() => TakeText(_pending.Count);

    private string TakeText(int byteCount)
    {
        if (byteCount == 0) return string.Empty;
        var bytes = new byte[byteCount];
        _pending.CopyTo(0, bytes, 0, byteCount);
        _pending.RemoveRange(0, byteCount);
        return Encoding.UTF8.GetString(bytes);
    }
}
