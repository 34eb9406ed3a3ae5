using Granary.Engine.KvReuse;
using Granary.Grains.Sharding;
using Granary.Model.KvCache;

namespace Granary.Grains.KvTiers;

/// <summary>
/// The KV tier's storage for a model on shard grains: every block is cut like the model, each shard keeping
/// the slice of its layers and heads (device blocks on the shard, lower tiers in the
/// <see cref="IKvTierGrain"/> of the shard's silo). The router only plans: each save, restore, move or free
/// becomes a <see cref="KvBlockOp"/> that travels to every shard with the next step and is applied before its
/// compute, so the tier never costs a call of its own and the shards see operations in the order they were
/// made. A restored sequence's cache on the router counts the restored positions at once. Sequence-parallel
/// caches are not moved (their positions are spread over a stage's shards).
/// </summary>
public sealed class ShardKvBlockStorage(GrainShardedCausalLm model, KvReuseOptions options) : IKvBlockStorage
{
    readonly long[] _numBytes = new long[3];

    long BytesPerBlock => model.NumKvBytesPerPosition * options.BlockSize;

    public bool HasTier(KvTier tier) => tier switch
    {
        KvTier.Device => true,
        KvTier.Host => options.HostCapacityBlocks > 0,
        _ => options.CxlCapacityBlocks > 0,
    };

    public long NumBytes(KvTier tier) => _numBytes[(int)tier];

    public bool CanTransfer(IKvCache cache) => cache is RemoteKvCache { Positions: null } remote && model.Made(remote);

    public void Save(long blockId, IKvCache cache, int start, int count, KvTier tier)
    {
        var remote = (RemoteKvCache)cache;
        _numBytes[(int)tier] += BytesPerBlock;
        model.QueueKvOp(new KvBlockOp(KvBlockOpKind.Save, blockId, (int)tier, SequenceId: remote.SequenceId, Start: start, Count: count,
            Capacity: remote.Capacity, CxlCapacityBlocks: options.CxlCapacityBlocks));
    }

    public void Restore(long blockId, KvTier tier, IKvCache cache)
    {
        var remote = (RemoteKvCache)cache;
        model.QueueKvOp(new KvBlockOp(KvBlockOpKind.Restore, blockId, (int)tier, SequenceId: remote.SequenceId, Capacity: remote.Capacity));
        remote.Advance(options.BlockSize);
    }

    public void Prefetch(long blockId, KvTier tier)
    {
        if (tier != KvTier.Device) model.QueueKvOp(new KvBlockOp(KvBlockOpKind.Prefetch, blockId, (int)tier));
    }

    public void Move(long blockId, KvTier from, KvTier to)
    {
        _numBytes[(int)from] -= BytesPerBlock;
        _numBytes[(int)to] += BytesPerBlock;
        model.QueueKvOp(new KvBlockOp(KvBlockOpKind.Move, blockId, (int)from, (int)to, CxlCapacityBlocks: options.CxlCapacityBlocks));
    }

    public void Free(long blockId, KvTier tier)
    {
        _numBytes[(int)tier] -= BytesPerBlock;
        model.QueueKvOp(new KvBlockOp(KvBlockOpKind.Free, blockId, (int)tier));
    }

    /// <summary>Nothing to release here: the shards' slices go with the shards.</summary>
    public void Dispose()
    {
    }
}
