using Granary.Model.KvCache;

namespace Granary.Model.Runtime;

/// <summary>
/// One sequence's new tokens for a forward step. With a cache they are appended after what it holds;
/// without one they are a whole sequence from position 0. <paramref name="AllLogits"/> asks for the logits
/// of every new token (speculative verification, tests) instead of only the last one.
/// </summary>
public sealed record StepInput(SequenceKvCache? Cache, IReadOnlyList<int> TokenIds, bool AllLogits = false)
{
    public int NumLogitRows => AllLogits ? TokenIds.Count : 1;
}
