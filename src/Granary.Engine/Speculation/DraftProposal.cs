using static TorchSharp.torch;

namespace Granary.Engine.Speculation;

/// <summary>
/// The k tokens a draft proposed for one sequence, and for sampled (non-greedy) sequences the distributions
/// q [V] fp32 (CPU) each was drawn from, which verification needs. Owns the q tensors.
/// </summary>
public sealed class DraftProposal(IReadOnlyList<int> tokenIds, IReadOnlyList<Tensor>? proposalProbabilities) : IDisposable
{
    public IReadOnlyList<int> TokenIds { get; } = tokenIds;

    /// <summary>Null for greedy sequences (q is one-hot on the proposed token).</summary>
    public IReadOnlyList<Tensor>? ProposalProbabilities { get; } = proposalProbabilities;

    public int Count => TokenIds.Count;

    public void Dispose()
    {
        if (ProposalProbabilities is null) return;
        foreach (var q in ProposalProbabilities) q.Dispose();
    }
}
