namespace Granary.Model.Tokenization;

/// <summary>
/// Turns a stream of token ids into bytes, applying the decode rules that span tokens (skipping special
/// tokens, removing SentencePiece's dummy-prefix space). Shared by whole and incremental decoding so the two
/// always agree.
/// </summary>
internal sealed class TokenByteWriter
{
    private readonly TokenByteTable _table;
    private readonly bool _skipSpecialTokens;
    private bool _sawTextToken;

    public TokenByteWriter(TokenByteTable table, bool skipSpecialTokens)
    {
        _table = table;
        _skipSpecialTokens = skipSpecialTokens;
    }

    public void Append(int id, List<byte> output)
    {
        var bytes = _table.BytesOf(id);
        if (_table.IsSpecial(id))
        {
            if (!_skipSpecialTokens) output.AddRange(bytes);
            return;
        }
        // The dummy prefix sits on the first text token only; specials before it (BOS) do not count.
        if (!_sawTextToken && _table.StripsFirstSpace && bytes.Length > 0 && bytes[0] == (byte)' ')
            bytes = bytes[1..];
        _sawTextToken = true;
        output.AddRange(bytes);
    }
}
