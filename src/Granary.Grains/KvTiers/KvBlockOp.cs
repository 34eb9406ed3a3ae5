namespace Granary.Grains.KvTiers;

/// <summary>What a shard does with its slice of one KV tier block (tiers as <see cref="Granary.Engine.KvReuse.KvTier"/> numbers).</summary>
public enum KvBlockOpKind
{
    /// <summary>Copy positions [Start, Start + Count) of the sequence's cache to tier <see cref="KvBlockOp.Tier"/>.</summary>
    Save = 0,

    /// <summary>Append the block (on <see cref="KvBlockOp.Tier"/>) to the sequence's cache, made with <see cref="KvBlockOp.Capacity"/> if new.</summary>
    Restore = 1,

    /// <summary>Move the block from <see cref="KvBlockOp.Tier"/> to <see cref="KvBlockOp.To"/>.</summary>
    Move = 2,

    /// <summary>Forget the block (on <see cref="KvBlockOp.Tier"/>).</summary>
    Free = 3,

    /// <summary>Start loading the lower-tier block onto the device for a request that waits (its restore then copies on the device).</summary>
    Prefetch = 4,
}

/// <summary>
/// One step of the KV tier's plan for a sharded model, as the router sends it with the next step to every
/// shard that holds KV: each shard applies it to its own slice (its layers, its heads), in order, before the
/// step's compute.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record KvBlockOp(
    [property: Id(0)] KvBlockOpKind Kind,
    [property: Id(1)] long BlockId,
    [property: Id(2)] int Tier,
    [property: Id(3)] int To = 0,
    [property: Id(4)] long SequenceId = 0,
    [property: Id(5)] int Start = 0,
    [property: Id(6)] int Count = 0,
    [property: Id(7)] int Capacity = 0,
    [property: Id(8)] int CxlCapacityBlocks = 0);
