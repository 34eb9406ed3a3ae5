using Granary.Engine.Generation;
using Granary.Model.KvCache;

namespace Granary.Engine.Speculation;

/// <summary>
/// What speculation needs from a draft, wherever it runs: in this process (<see cref="DraftModel"/>) or on a
/// draft grain. The engine's speculation is the same either way: it asks for proposals for a batch of
/// sequences, and rolls back or frees a sequence's draft cache through the <see cref="IKvCache"/> it was
/// given (a remote drafter applies those on its next call).
/// </summary>
public interface IDrafter
{
    int VocabSize { get; }

    int MaxPositionEmbeddings { get; }

    /// <summary>Bytes of one position of the draft's KV cache.</summary>
    long NumKvBytesPerPosition { get; }

    /// <summary>A draft cache for one sequence of at most <paramref name="capacity"/> positions.</summary>
    IKvCache NewCache(int capacity);

    /// <summary>
    /// Proposals for <paramref name="sequences"/> (every one speculating, with a draft cache from
    /// <see cref="NewCache"/>), <paramref name="numTokens"/>[i] tokens for sequence i, all in one batch.
    /// Sampled sequences draw one uniform per proposed token from their own random stream, in order.
    /// </summary>
    DraftProposal[] Propose(IReadOnlyList<Sequence> sequences, IReadOnlyList<int> numTokens);
}
