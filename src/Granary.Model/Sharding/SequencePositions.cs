namespace Granary.Model.Sharding;

/// <summary>
/// Which positions of one sequence each of S sequence-parallel shards holds, each up to
/// <see cref="CapacityPerShard"/>, and where new ones go: one token to the shard with the most room (the
/// lowest on ties); several (a prompt chunk) split into contiguous runs over the shards in order, as evenly as
/// their room allows. Kept by whoever plans the steps (an in-process plan's cache, the router for shard grains).
/// </summary>
public sealed class SequencePositions(int numShards, int capacityPerShard)
{
    readonly List<long>[] _positions = Enumerable.Range(0, numShards).Select(_ => new List<long>()).ToArray();

    /// <summary>
    /// Positions for a sequence that asked for <paramref name="capacity"/>: split evenly over the shards, at most
    /// <paramref name="kvTokensPerShard"/> (the shards' KV budget) on each.
    /// </summary>
    public static SequencePositions ForCapacity(int capacity, int numShards, int? kvTokensPerShard)
    {
        int perShard = (capacity + numShards - 1) / numShards;
        return new SequencePositions(numShards, kvTokensPerShard is { } budget ? Math.Min(perShard, budget) : perShard);
    }

    public int NumShards => numShards;

    public int CapacityPerShard => capacityPerShard;

    public int Capacity => capacityPerShard * numShards;

    public int Length => _positions.Sum(p => p.Count);

    /// <summary>Free positions on <paramref name="shard"/>.</summary>
    public int Room(int shard) => capacityPerShard - _positions[shard].Count;

    /// <summary>The positions <paramref name="shard"/> holds, increasing.</summary>
    public IReadOnlyList<long> Of(int shard) => _positions[shard];

    /// <summary>Where the next <paramref name="numTokens"/> positions go, by shard (nothing is recorded until <see cref="Append"/>).</summary>
    public long[][] Assign(int numTokens)
    {
        var counts = new int[numShards];
        if (numTokens == 1)
        {
            int best = 0;
            for (int s = 1; s < numShards; s++)
                if (Room(s) > Room(best)) best = s;
            counts[best] = 1;
        }
        else
        {
            int remaining = numTokens;
            while (remaining > 0)
            {
                var open = Enumerable.Range(0, numShards).Where(s => Room(s) - counts[s] > 0).ToList();
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
        var positions = new long[numShards][];
        long next = Length;
        for (int s = 0; s < numShards; s++)
        {
            positions[s] = new long[counts[s]];
            for (int j = 0; j < counts[s]; j++) positions[s][j] = next++;
        }
        return positions;
    }

    /// <summary>Records that a step stored <paramref name="positions"/> (from <see cref="Assign"/>) on the shards.</summary>
    public void Append(long[][] positions)
    {
        for (int s = 0; s < numShards; s++) _positions[s].AddRange(positions[s]);
    }

    /// <summary>Drops positions from <paramref name="length"/> on; returns how many each shard keeps.</summary>
    public int[] Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        var kept = new int[numShards];
        for (int s = 0; s < numShards; s++)
        {
            kept[s] = _positions[s].Count(p => p < length);
            _positions[s].RemoveRange(kept[s], _positions[s].Count - kept[s]);
        }
        return kept;
    }
}
