using Granary.Model.KvCache;

namespace Granary.Model.Sharding;

/// <summary>
/// One sequence's cache under an in-process sequence-parallel plan: on each of a stage's S shards a
/// <see cref="SequenceKvCache"/> of up to <see cref="SequencePositions.CapacityPerShard"/> positions, and which
/// positions each shard holds (the same on every stage). No shard holds the whole sequence.
/// </summary>
public sealed class SequenceParallelKvCache(IReadOnlyList<IReadOnlyList<SequenceKvCache>> byStageAndShard, SequencePositions positions) : IKvCache
{
    public SequencePositions Positions { get; } = positions;

    public int Capacity => Positions.Capacity;

    public int Length => Positions.Length;

    public bool CanAppend(int numTokens) => Length + numTokens <= Capacity;

    public SequenceKvCache Shard(int stage, int shard) => byStageAndShard[stage][shard];

    public void Truncate(int length)
    {
        int[] kept = Positions.Truncate(length);
        foreach (var stage in byStageAndShard)
            for (int s = 0; s < kept.Length; s++) stage[s].Truncate(kept[s]);
    }

    public void Dispose()
    {
        foreach (var stage in byStageAndShard)
            foreach (var cache in stage) cache.Dispose();
    }
}
