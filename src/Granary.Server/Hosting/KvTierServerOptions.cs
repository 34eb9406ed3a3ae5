using Granary.Engine.KvReuse;

namespace Granary.Server.Hosting;

/// <summary>
/// The KV tier's settings, bound from "Granary:KvTier": prefix reuse in blocks, Continuum-style TTL pins for
/// programs waiting on tools, and the host and cxl tiers that take blocks the device cannot keep.
/// </summary>
public sealed class KvTierServerOptions
{
    const string Prefix = "Granary:KvTier:";

    /// <summary>Turns prefix reuse, pins and tiers on.</summary>
    public bool Enabled { get; set; }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; set; } = 16;

    /// <summary>Most blocks kept on the device; none: as many as the KV budget (then required) leaves free.</summary>
    public int? DeviceBlocks { get; set; }

    /// <summary>Blocks kept in host RAM (pinned when the device is a GPU); 0: no host tier.</summary>
    public int HostBlocks { get; set; }

    /// <summary>Blocks kept in CXL memory; 0: no cxl tier. Needs <see cref="CxlPath"/> or <see cref="CxlNumaNode"/>.</summary>
    public int CxlBlocks { get; set; }

    /// <summary>A DAX device, a file, or a folder (a file is made in it) to memory-map as the cxl tier.</summary>
    public string? CxlPath { get; set; }

    /// <summary>The NUMA node of the CXL memory (a CPU-less node); the tier's pages are bound to it.</summary>
    public int? CxlNumaNode { get; set; }

    /// <summary>Whether a turn that waits on a tool (header X-Granary-Awaiting-Tool) pins its program's KV.</summary>
    public bool Pinning { get; set; } = true;

    /// <summary>The TTL of a tool not yet observed.</summary>
    public double DefaultTtlSeconds { get; set; } = 5;

    /// <summary>The longest TTL any pin gets.</summary>
    public double MaxTtlSeconds { get; set; } = 300;

    /// <summary>Returns the first problem, naming the setting, or null.</summary>
    public string? Validate(long? kvCacheTokens)
    {
        if (!Enabled) return null;
        if (BlockSize < 1) return $"{Prefix}BlockSize must be >= 1 (got {BlockSize})";
        if (DeviceBlocks is < 0) return $"{Prefix}DeviceBlocks must be >= 0 (got {DeviceBlocks})";
        if (DeviceBlocks is null && kvCacheTokens is null)
            return $"{Prefix}DeviceBlocks or Granary:KvCacheTokens (--kv-cache-tokens) must bound the device memory the tier may keep";
        if (DeviceBlocks is { } blocks && kvCacheTokens is { } budget && (long)blocks * BlockSize > budget)
            return $"{Prefix}DeviceBlocks ({blocks} blocks of {BlockSize} tokens) does not fit in Granary:KvCacheTokens ({budget})";
        if (HostBlocks < 0) return $"{Prefix}HostBlocks must be >= 0 (got {HostBlocks})";
        if (CxlBlocks < 0) return $"{Prefix}CxlBlocks must be >= 0 (got {CxlBlocks})";
        if (CxlPath is not null && CxlNumaNode is not null) return $"{Prefix}CxlPath and {Prefix}CxlNumaNode are both set; the cxl tier is one or the other";
        if (CxlBlocks > 0 && CxlPath is null && CxlNumaNode is null) return $"{Prefix}CxlBlocks is {CxlBlocks} but neither {Prefix}CxlPath nor {Prefix}CxlNumaNode says where the cxl memory is";
        if (CxlPath is not null && !Directory.Exists(CxlPath) && !File.Exists(CxlPath)) return $"{Prefix}CxlPath: {CxlPath} does not exist";
        if (CxlNumaNode is { } node && !NumaBlockStore.NodeExists(node)) return $"{Prefix}CxlNumaNode: NUMA node {node} does not exist on this machine";
        if (DefaultTtlSeconds <= 0) return $"{Prefix}DefaultTtlSeconds must be > 0 (got {DefaultTtlSeconds})";
        if (MaxTtlSeconds < DefaultTtlSeconds) return $"{Prefix}MaxTtlSeconds ({MaxTtlSeconds}) must be >= {Prefix}DefaultTtlSeconds ({DefaultTtlSeconds})";
        return null;
    }

    /// <summary>The engine's options; null when the tier is off.</summary>
    public KvReuseOptions? ToKvReuseOptions() => !Enabled ? null : new KvReuseOptions
    {
        BlockSize = BlockSize,
        DeviceCapacityBlocks = DeviceBlocks ?? int.MaxValue,
        HostCapacityBlocks = HostBlocks,
        CxlCapacityBlocks = CxlBlocks,
        IsPinning = Pinning,
        DefaultToolTtl = TimeSpan.FromSeconds(DefaultTtlSeconds),
        MaxToolTtl = TimeSpan.FromSeconds(MaxTtlSeconds),
    };

    public CxlMemory? ToCxlMemory() => CxlPath is null && CxlNumaNode is null ? null : new CxlMemory(CxlPath, CxlNumaNode);
}
