namespace Granary.Engine.KvReuse;

/// <summary>
/// How the engine keeps KV between requests: the block size of prefix reuse, what each tier may hold, and
/// whether a turn that waits on a tool pins its program's blocks (Continuum's TTL). With pinning off and no
/// lower tiers it is a plain LRU prefix cache.
/// </summary>
public sealed record KvReuseOptions
{
    /// <summary>Tokens per block: prefixes are reused in whole blocks.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Most blocks the device tier keeps (it also gives way to running requests under the scheduler's KV budget).</summary>
    public int DeviceCapacityBlocks { get; init; } = int.MaxValue;

    /// <summary>Blocks host RAM keeps; 0 turns the tier off (demoted blocks go further down or are dropped).</summary>
    public int HostCapacityBlocks { get; init; }

    /// <summary>Blocks the cxl tier keeps; 0 turns the tier off.</summary>
    public int CxlCapacityBlocks { get; init; }

    /// <summary>Whether a turn that ends waiting on a tool pins its program's blocks on the device for a predicted TTL.</summary>
    public bool IsPinning { get; init; } = true;

    /// <summary>Whether requests queue by their program's first arrival (Continuum's program-level FCFS) rather than their own.</summary>
    public bool IsProgramFcfs { get; init; } = true;

    /// <summary>The TTL of a tool never observed yet.</summary>
    public TimeSpan DefaultToolTtl { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest TTL a pin may get, whatever the predictor says (a stuck tool must not hold memory for ever).</summary>
    public TimeSpan MaxToolTtl { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The quantile of a tool's observed durations its TTL starts from.</summary>
    public double TtlQuantile { get; init; } = 0.9;

    public string? Validate()
    {
        if (BlockSize < 1) return $"BlockSize must be >= 1 (got {BlockSize})";
        if (DeviceCapacityBlocks < 0) return $"DeviceCapacityBlocks must be >= 0 (got {DeviceCapacityBlocks})";
        if (HostCapacityBlocks < 0) return $"HostCapacityBlocks must be >= 0 (got {HostCapacityBlocks})";
        if (CxlCapacityBlocks < 0) return $"CxlCapacityBlocks must be >= 0 (got {CxlCapacityBlocks})";
        if (DefaultToolTtl <= TimeSpan.Zero) return $"DefaultToolTtl must be positive (got {DefaultToolTtl})";
        if (MaxToolTtl < DefaultToolTtl) return $"MaxToolTtl ({MaxToolTtl}) must be >= DefaultToolTtl ({DefaultToolTtl})";
        if (TtlQuantile is <= 0 or > 1) return $"TtlQuantile must be in (0, 1] (got {TtlQuantile})";
        return null;
    }
}
