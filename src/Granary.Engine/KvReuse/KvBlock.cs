namespace Granary.Engine.KvReuse;

/// <summary>
/// One cached block: <see cref="PrefixCache.BlockSize"/> tokens at positions [Depth × size, (Depth + 1) × size)
/// of some prompt, their KV on one tier, and the bookkeeping that decides which block goes first.
/// </summary>
public sealed class KvBlock
{
    internal KvBlock(string? tenant, ulong hash, KvBlock? parent, int[] tokenIds)
    {
        Tenant = tenant;
        Hash = hash;
        Parent = parent;
        TokenIds = tokenIds;
        Depth = parent is null ? 0 : parent.Depth + 1;
    }

    public string? Tenant { get; }

    public ulong Hash { get; }

    /// <summary>The block before it in its prompt (null for the first).</summary>
    public KvBlock? Parent { get; }

    /// <summary>Blocks that continue this one; dropping this block drops them (they could never match again).</summary>
    internal List<KvBlock> Children { get; } = [];

    public int[] TokenIds { get; }

    /// <summary>Its index in the prompt: 0 for the first block.</summary>
    public int Depth { get; }

    public KvTier Tier { get; internal set; }

    /// <summary>The block's name in the <see cref="IKvBlockStorage"/> (a promoted block gets a new one).</summary>
    internal long Id { get; set; }

    /// <summary>The program that last wrote or reused it (pins apply per program).</summary>
    public string? Program { get; internal set; }

    /// <summary>Logical time of its last use: larger is more recent (a counter, so order is exact in tests).</summary>
    public long LastUsed { get; internal set; }

    /// <summary>While set and in the future, the block stays on the device (a program is between turns).</summary>
    public DateTimeOffset? PinnedUntil { get; internal set; }

    public bool IsPinned => PinnedUntil is not null;

    public override string ToString() => $"block {Depth} ({Tier}{(IsPinned ? ", pinned" : "")}, used {LastUsed})";
}
