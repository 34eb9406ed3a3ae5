using Granary.Engine.KvReuse;
using Granary.Grains.Sharding;

namespace Granary.Grains.KvTiers;

/// <summary>Makes a sharded deployment's KV tier storage once every silo holding a shard can keep the tiers it asks for.</summary>
public static class ShardKvTierCheck
{
    public static async Task<ShardKvBlockStorage> StorageFor(GrainShardedCausalLm model, KvReuseOptions options, IReadOnlyList<ShardReport> shards, IGrainFactory grains)
    {
        if (options.CxlCapacityBlocks > 0)
        {
            var silos = shards.Select(s => ShardKey.SiloOf(s.Key)).Distinct();
            var reports = await Task.WhenAll(silos.Select(s => grains.GetGrain<IKvTierGrain>(ShardKey.ForKvTier(s)).Describe()));
            if (reports.FirstOrDefault(r => !r.HasCxl) is { } lacking)
                throw new InvalidOperationException(
                    $"the KV tier keeps {options.CxlCapacityBlocks} cxl blocks per shard but silo {lacking.Silo} has no cxl memory (set Granary:KvTier:CxlPath or Granary:KvTier:CxlNumaNode on every silo)");
        }
        return new ShardKvBlockStorage(model, options);
    }
}
