namespace Granary.Model.Tokenization;

/// <summary>
/// What each token id stands for as raw bytes, and whether it is special. Decoding works on bytes rather
/// than on per-token strings because a byte-level or byte-fallback token may hold half a UTF-8 character.
/// </summary>
internal sealed class TokenByteTable
{
    private readonly byte[][] _bytesOfId;
    private readonly bool[] _isSpecial;

    /// <param name="bytesOfId">Bytes per id; an empty array for ids that decode to nothing.</param>
    /// <param name="isSpecial">Special (control/added) flag per id, same length.</param>
    /// <param name="stripsFirstSpace">
    /// SentencePiece with add_dummy_prefix puts a "▁" before the text; decoding removes that one space again.
    /// </param>
    public TokenByteTable(byte[][] bytesOfId, bool[] isSpecial, bool stripsFirstSpace)
    {
        if (bytesOfId.Length != isSpecial.Length) throw new ArgumentException("bytes and special flags differ in length");
        _bytesOfId = bytesOfId;
        _isSpecial = isSpecial;
        StripsFirstSpace = stripsFirstSpace;
    }

    public int Count => _bytesOfId.Length;

    public bool StripsFirstSpace { get; }

    public bool IsSpecial(int id) => (uint)id < (uint)_isSpecial.Length && _isSpecial[id];

    public ReadOnlySpan<byte> BytesOf(int id)
    {
        if ((uint)id >= (uint)_bytesOfId.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id outside the vocabulary of {_bytesOfId.Length}");
        return _bytesOfId[id];
    }
}
