using Granary.Model.KvCache;

namespace Granary.Model.Sharding;

/// <summary>
/// One sequence's cache under a plan: a <see cref="SequenceKvCache"/> on every shard (its layers, its KV
/// heads), all of one capacity and always of one length.
/// </summary>
public sealed class ShardedKvCache(IReadOnlyList<IReadOnlyList<SequenceKvCache>> byStageAndRank, int capacity) : IKvCache
{
    public int Capacity { get; } = capacity;

    public int Length => byStageAndRank[0][0].Length;

    public bool CanAppend(int numTokens) => Length + numTokens <= Capacity;

    /// <summary>The cache held by <paramref name="rank"/> of <paramref name="stage"/>.</summary>
    public SequenceKvCache Shard(int stage, int rank) => byStageAndRank[stage][rank];

    public void Truncate(int length)
    {
        foreach (var ranks in byStageAndRank)
            foreach (var cache in ranks) cache.Truncate(length);
    }

    public void Dispose()
    {
        foreach (var ranks in byStageAndRank)
            foreach (var cache in ranks) cache.Dispose();
    }
}
