namespace Granary.Model.Sharding;

/// <summary>
/// One sequence-parallel rank's view of a step: its group, and for every sequence of the step (in the
/// order of the forward's segments) where the new tokens sit on every rank and which keys this rank holds.
/// </summary>
public sealed record SequenceParallelStep(ISequenceParallelGroup Group, IReadOnlyList<SequenceParallelSegment> Segments);

/// <summary>
/// One sequence in a sequence-parallel step. <see cref="QueryPositionsByRank"/>[r]: the positions of the new
/// tokens rank r computes (increasing; its queries). <see cref="KeyPositions"/>: the positions whose K/V this
/// rank holds for the sequence once the step's are written (its cached ones, then its new ones).
/// </summary>
public sealed record SequenceParallelSegment(IReadOnlyList<long[]> QueryPositionsByRank, long[] KeyPositions)
{
    public int NumQueries => QueryPositionsByRank.Sum(p => p.Length);

    /// <summary>The step holds the sequence's first positions (a fresh prompt's first chunk): no shard has keys of it yet.</summary>
    public bool StartsTheSequence => QueryPositionsByRank.Any(p => p.Length > 0 && p[0] == 0);

    /// <summary>Where rank <paramref name="rank"/>'s queries start among the sequence's queries taken in rank order.</summary>
    public int QueryOffset(int rank) => QueryPositionsByRank.Take(rank).Sum(p => p.Length);
}
