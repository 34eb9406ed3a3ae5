using Granary.Abstractions.Serving;
using Granary.Engine.Generation;

namespace Granary.Engine.Scheduling;

/// <summary>
/// What one step did to one sequence: the tokens it emitted (one, or with speculation up to k + 1 — never
/// any after the one that finished it), the text they make safe to emit, and whether it is done.
/// </summary>
public sealed record SequenceUpdate(Sequence Sequence, IReadOnlyList<int> TokenIds, string NewText)
{
    /// <summary>The last emitted token.</summary>
    public int TokenId => TokenIds[^1];

    /// <summary>One per token in <see cref="TokenIds"/>, set when the request asked for log-probabilities.</summary>
    public IReadOnlyList<TokenLogprob>? Logprobs { get; init; }

    public bool IsFinished => Sequence.IsFinished;
}
