using Granary.Model.KvCache;

namespace Granary.Model.Sharding;

/// <summary>
/// One sequence's cache under a sequence-parallel plan: on each of a stage's S shards a
/// <see cref="SequenceKvCache"/> of up to <see cref="CapacityPerShard"/> positions, and which positions each
/// shard holds (the same on every stage). No shard holds the whole sequence: a prompt is split over them, and
/// each new token goes to the shard with the most room.
/// </summary>
public sealed class SequenceParallelKvCache : IKvCache
{
    readonly IReadOnlyList<IReadOnlyList<SequenceKvCache>> _byStageAndShard; // [stage][sequence shard]
    readonly List<long>[] _positions;                                        // by sequence shard, increasing

    public SequenceParallelKvCache(IReadOnlyList<IReadOnlyList<SequenceKvCache>> byStageAndShard, int capacityPerShard)
    {
        _byStageAndShard = byStageAndShard;
        CapacityPerShard = capacityPerShard;
        _positions = Enumerable.Range(0, byStageAndShard[0].Count).Select(_ => new List<long>()).ToArray();
    }

    public int NumShards => _positions.Length;

    public int CapacityPerShard { get; }

    public int Capacity => CapacityPerShard * NumShards;

    public int Length => _positions.Sum(p => p.Count);

    public bool CanAppend(int numTokens) => Length + numTokens <= Capacity;

    /// <summary>Free positions on <paramref name="shard"/>.</summary>
    public int Room(int shard) => CapacityPerShard - _positions[shard].Count;

    /// <summary>The positions <paramref name="shard"/> holds, increasing.</summary>
    public IReadOnlyList<long> Positions(int shard) => _positions[shard];

    public SequenceKvCache Shard(int stage, int shard) => _byStageAndShard[stage][shard];

    /// <summary>
    /// Where the next <paramref name="numTokens"/> positions go: one token to the shard with the most room (the
    /// lowest on ties); several (a prompt chunk) split into contiguous runs over the shards in order, as evenly
    /// as their room allows. Positions by shard.
    /// </summary>
    public long[][] Assign(int numTokens)
    {
        var counts = new int[NumShards];
        if (numTokens == 1)
        {
            int best = 0;
            for (int s = 1; s < NumShards; s++)
                if (Room(s) > Room(best)) best = s;
            counts[best] = 1;
        }
        else
        {
            int remaining = numTokens;
            while (remaining > 0)
            {
                var open = Enumerable.Range(0, NumShards).Where(s => Room(s) - counts[s] > 0).ToList();
                if (open.Count == 0) throw new InvalidOperationException($"KV cache full: {Length} + {numTokens} tokens exceed capacity {Capacity}");
                int share = Math.Max(1, remaining / open.Count);
                foreach (int s in open)
                {
                    int take = Math.Min(Math.Min(share, Room(s) - counts[s]), remaining);
                    counts[s] += take;
                    remaining -= take;
                    if (remaining == 0) break;
                }
            }
        }
        var positions = new long[NumShards][];
        long next = Length;
        for (int s = 0; s < NumShards; s++)
        {
            positions[s] = new long[counts[s]];
            for (int j = 0; j < counts[s]; j++) positions[s][j] = next++;
        }
        return positions;
    }

    /// <summary>Records that a step stored <paramref name="positions"/> (from <see cref="Assign"/>) on the shards.</summary>
    public void Append(long[][] positions)
    {
        for (int s = 0; s < NumShards; s++) _positions[s].AddRange(positions[s]);
    }

    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        for (int s = 0; s < NumShards; s++)
        {
            int keep = _positions[s].Count(p => p < length);
            _positions[s].RemoveRange(keep, _positions[s].Count - keep);
            foreach (var stage in _byStageAndShard) stage[s].Truncate(keep);
        }
    }

    public void Dispose()
    {
        foreach (var stage in _byStageAndShard)
            foreach (var cache in stage) cache.Dispose();
    }
}
