namespace Granary.Engine.KvReuse;

/// <summary>Where a cached KV block lives, fastest first: demotion moves a block one step down, reuse brings it back to the device.</summary>
public enum KvTier
{
    /// <summary>The model's own device (GPU memory, or CPU memory for a CPU model).</summary>
    Device = 0,

    /// <summary>Host RAM (pinned when the device is a GPU, so copies back are DMA).</summary>
    Host = 1,

    /// <summary>CXL memory: a NUMA node or a memory-mapped DAX device or file.</summary>
    Cxl = 2,
}

/// <summary>Lower-case tier names as metrics label them.</summary>
public static class KvTierNames
{
    public static string Label(this KvTier tier) => tier switch
    {
        KvTier.Device => "device",
        KvTier.Host => "host",
        KvTier.Cxl => "cxl",
        _ => throw new ArgumentOutOfRangeException(nameof(tier)),
    };

    public static readonly KvTier[] All = [KvTier.Device, KvTier.Host, KvTier.Cxl];
}
