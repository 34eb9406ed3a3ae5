namespace Granary.Grains.Sharding;

/// <summary>
/// One step of one stage, as the router sends it to each rank of the stage: the stage's input (token ids on
/// the first stage, hidden states after), the step's layout, and each sequence's share. A shard keeps a KV
/// cache per <see cref="ShardSegment.SequenceId"/>, made on first sight with the given capacity and rolled
/// back to <see cref="ShardSegment.StartPosition"/> when it holds more (rejected speculative tokens).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShardStepRequest(
    [property: Id(0)] long StepId,
    [property: Id(1)] TensorPayload Input,
    [property: Id(2)] long[] Positions,
    [property: Id(3)] long[] LogitRows,
    [property: Id(4)] ShardSegment[] Segments,
    [property: Id(5)] long[] ReleasedSequences,
    [property: Id(6)] SequenceParallelWire? SequenceParallel = null);

/// <summary>
/// Where a sequence-parallel step's new tokens sit on each of the stage's shards: for segment i and shard q,
/// <see cref="Counts"/>[i * shards + q] positions, listed in that order in <see cref="Positions"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SequenceParallelWire(
    [property: Id(0)] int NumShards,
    [property: Id(1)] int[] Counts,
    [property: Id(2)] long[] Positions)
{
    public static SequenceParallelWire From(IReadOnlyList<long[][]> assigned) =>
        new(assigned.Count == 0 ? 0 : assigned[0].Length, assigned.SelectMany(byShard => byShard.Select(p => p.Length)).ToArray(),
            assigned.SelectMany(byShard => byShard.SelectMany(p => p)).ToArray());

    /// <summary>[segment][shard] positions.</summary>
    public long[][][] ToAssigned()
    {
        int segments = NumShards == 0 ? 0 : Counts.Length / NumShards, next = 0;
        var assigned = new long[segments][][];
        for (int i = 0; i < segments; i++)
        {
            assigned[i] = new long[NumShards][];
            for (int q = 0; q < NumShards; q++)
            {
                int count = Counts[i * NumShards + q];
                assigned[i][q] = Positions[next..(next + count)];
                next += count;
            }
        }
        return assigned;
    }
}

[GenerateSerializer, Immutable]
public sealed record ShardSegment(
    [property: Id(0)] long SequenceId,
    [property: Id(1)] int NumTokens,
    [property: Id(2)] int StartPosition,
    [property: Id(3)] int Capacity);
