namespace Granary.Engine.KvReuse;

/// <summary>
/// Chained block hashes: block i's hash covers its tokens and block i - 1's hash, so equal hashes mean equal
/// prefixes (up to collisions, which is why a match also compares the tokens). The chain starts from the
/// tenant's hash: two tenants' identical prompts never share a chain.
/// FNV-1a (64 bit) because it is stable across processes, unlike <see cref="HashCode"/>.
/// </summary>
public static class BlockHash
{
    const ulong Offset = 14695981039346656037UL;
    const ulong Prime = 1099511628211UL;

    /// <summary>The hash every chain of <paramref name="tenant"/> starts from (null: requests without an API key).</summary>
    public static ulong Root(string? tenant)
    {
        ulong hash = Offset;
        foreach (char c in tenant ?? "\0anonymous") hash = Mix(hash, c);
        return hash;
    }

    /// <summary>hash(previous hash, tokens).</summary>
    public static ulong Chain(ulong previous, ReadOnlySpan<int> tokens)
    {
        ulong hash = Mix(Offset, previous);
        foreach (int token in tokens) hash = Mix(hash, (uint)token);
        return hash;
    }

    static ulong Mix(ulong hash, ulong value)
    {
        for (int i = 0; i < 8; i++)
        {
            hash ^= value & 0xff;
            hash *= Prime;
            value >>= 8;
        }
        return hash;
    }
}
