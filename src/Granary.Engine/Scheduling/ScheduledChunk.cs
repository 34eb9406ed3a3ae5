using Granary.Engine.Generation;

namespace Granary.Engine.Scheduling;

/// <summary>
/// One sequence's share of a step: the tokens it feeds, and whether the step ends with sampling its next
/// token (a decode, or the chunk that completes its prompt). A decode with <see cref="NumSpeculativeTokens"/>
/// k &gt; 0 has the draft propose k tokens after <see cref="TokenIds"/>, and the target verifies all k + 1.
/// </summary>
public sealed record ScheduledChunk(Sequence Sequence, IReadOnlyList<int> TokenIds, bool SamplesNextToken)
{
    public int NumSpeculativeTokens { get; init; }

    /// <summary>Positions of the target's forward this chunk takes.</summary>
    public int NumTargetTokens => TokenIds.Count + NumSpeculativeTokens;
}
