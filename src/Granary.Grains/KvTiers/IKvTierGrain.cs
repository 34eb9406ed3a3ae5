using Granary.Grains.Sharding;

namespace Granary.Grains.KvTiers;

/// <summary>
/// One per silo (keyed by <see cref="ShardKey.ForKvTier"/>, so it lives there): the lower tiers of the silo's
/// shards. Each shard keeps its device blocks itself and hands the blocks it demotes to this grain, which keeps
/// them in host RAM or in the silo's CXL memory (<see cref="KvTierSilo"/>), per slice (a shard's key) and block id.
/// </summary>
public interface IKvTierGrain : IGrainWithStringKey
{
    /// <summary>Keeps <paramref name="kv"/> as the slice's block on tier 1 (host) or 2 (cxl; its store holds <paramref name="cxlCapacityBlocks"/>).</summary>
    Task Store(string slice, long blockId, int tier, TensorPayload kv, int cxlCapacityBlocks);

    /// <summary>Moves a block it holds to another of its tiers.</summary>
    Task Move(string slice, long blockId, int to, int cxlCapacityBlocks);

    Task<TensorPayload> Load(string slice, long blockId);

    Task Free(string slice, long blockId);

    /// <summary>Forgets every block of a shard that is gone.</summary>
    Task FreeSlice(string slice);

    Task<KvTierReport> Describe();
}

/// <summary>What a silo's tiers hold: blocks and bytes on host and cxl, and whether it has cxl memory at all.</summary>
[GenerateSerializer, Immutable]
public sealed record KvTierReport(
    [property: Id(0)] string Silo,
    [property: Id(1)] bool HasCxl,
    [property: Id(2)] int HostBlocks,
    [property: Id(3)] long HostBytes,
    [property: Id(4)] int CxlBlocks,
    [property: Id(5)] long CxlBytes,
    [property: Id(6)] int NumSlices);

/// <summary>A silo's cxl memory for its shards' KV (from its own `Granary:KvTier:CxlPath` or `CxlNumaNode`), or none.</summary>
public sealed record KvTierSilo(Granary.Engine.KvReuse.CxlMemory? Cxl = null);
