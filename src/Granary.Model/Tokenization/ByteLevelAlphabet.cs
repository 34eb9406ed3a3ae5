namespace Granary.Model.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character map. Byte-level BPE vocabularies store tokens as strings in this
/// alphabet so that every byte has a printable, non-whitespace stand-in (space becomes 'Ġ', newline 'Ċ').
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] CharOfByte = BuildCharOfByte();
    private static readonly Dictionary<char, byte> ByteOfChar = BuildByteOfChar();

    /// <summary>The stand-in character for one byte.</summary>
    public static char CharFor(byte value) => CharOfByte[value];

    /// <summary>Encodes raw bytes as a token string in the byte-level alphabet.</summary>
    public static string ToTokenString(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = CharOfByte[bytes[i]];
        return new string(chars);
    }

    /// <summary>
    /// Decodes a token string back to its bytes; null when a character is outside the alphabet
    /// (such a token is not a byte-level token, e.g. a stray added token stored in the vocab).
    /// </summary>
    public static byte[]? TryToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!ByteOfChar.TryGetValue(token[i], out bytes[i])) return null;
        }
        return bytes;
    }

    private static char[] BuildCharOfByte()
    {
        // Printable Latin-1 bytes map to themselves; the remaining 68 bytes (controls, space, DEL, NBSP,
        // soft hyphen) are moved, in byte order, to code points 256 and up.
        var map = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + shifted++);
        }
        return map;
    }

    private static Dictionary<char, byte> BuildByteOfChar()
    {
        var inverse = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) inverse[CharOfByte[b]] = (byte)b;
        return inverse;
    }
}
