using Granary.Model.KvCache;

namespace Granary.Engine.KvReuse;

/// <summary>
/// Where the KV tier's blocks live and how they move: the <see cref="PrefixCache"/> decides which block goes
/// to which tier, a storage carries it out. One storage serves a whole model: on one device
/// (<see cref="LocalKvBlockStorage"/>), or on every shard of a plan, each shard keeping its own slice of every
/// block. Moves and frees may finish later (off the decode loop); the storage keeps each block's operations in
/// the order they were asked for, so a restore always reads what the last move put there.
/// </summary>
public interface IKvBlockStorage : IDisposable
{
    /// <summary>Whether the tier has memory behind it (the device always has).</summary>
    bool HasTier(KvTier tier);

    /// <summary>Bytes the tier's blocks take once the moves asked for so far are done.</summary>
    long NumBytes(KvTier tier);

    /// <summary>Whether blocks can be saved from, and restored into, <paramref name="cache"/>.</summary>
    bool CanTransfer(IKvCache cache);

    /// <summary>Keeps a copy of positions [start, start + count) of <paramref name="cache"/> on <paramref name="tier"/> as block <paramref name="blockId"/>.</summary>
    void Save(long blockId, IKvCache cache, int start, int count, KvTier tier);

    /// <summary>Appends block <paramref name="blockId"/>'s KV (on <paramref name="tier"/>) to <paramref name="cache"/>.</summary>
    void Restore(long blockId, KvTier tier, IKvCache cache);

    /// <summary>
    /// Starts bringing a lower-tier block's KV towards the device for a request that is waiting, so that its
    /// restore is a device copy. Only a hint: the block stays where it is, and a storage may ignore it.
    /// </summary>
    void Prefetch(long blockId, KvTier tier);

    /// <summary>Moves a block from one tier to another.</summary>
    void Move(long blockId, KvTier from, KvTier to);

    void Free(long blockId, KvTier tier);
}
