namespace Granary.Model.Tokenization;

/// <summary>Finds where a byte buffer stops being decodable because its last character is still arriving.</summary>
internal static class Utf8Boundary
{
    /// <summary>
    /// Length of the prefix that can be decoded now: everything except a trailing, so far valid, but
    /// incomplete multi-byte sequence. Invalid bytes are not held back (they will never complete).
    /// </summary>
    public static int CompletePrefixLength(IReadOnlyList<byte> buffer)
    {
        int end = buffer.Count;
        // A UTF-8 sequence is at most 4 bytes, so its lead byte is within the last 4.
        for (int start = end - 1; start >= 0 && start >= end - 4; start--)
        {
            byte value = buffer[start];
            if ((value & 0xC0) == 0x80) continue; // continuation byte: keep looking for the lead
            int needed = SequenceLength(value);
            return needed > end - start ? start : end;
        }
        return end;
    }

    private static int SequenceLength(byte lead) => lead switch
    {
        >= 0xC2 and <= 0xDF => 2,
        >= 0xE0 and <= 0xEF => 3,
        >= 0xF0 and <= 0xF4 => 4,
        _ => 1, // ASCII, or a byte that can never start a valid sequence
    };
}
