using Granary.Engine.Generation;

namespace Granary.Engine.Scheduling;

/// <summary>
/// One sequence's share of a step: the tokens it feeds, and whether the step ends with sampling its next
/// token (a decode, or the chunk that completes its prompt).
/// </summary>
public sealed record ScheduledChunk(Sequence Sequence, IReadOnlyList<int> TokenIds, bool SamplesNextToken);
