using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Model.Sampling;

/// <summary>
/// One vocabulary part's logits for the rows of a step, left where they were computed: the sampler asks
/// each part for a summary of a row and, when it must, to walk its own share of the distribution, and never
/// moves the logits themselves (gather-free sampling, as in vocabulary parallelism).
/// </summary>
public interface IVocabPartLogits : IDisposable
{
    VocabRange Range { get; }

    /// <summary>Row <paramref name="row"/>'s summary under <paramref name="scoring"/>, with its best <paramref name="numCandidates"/> tokens.</summary>
    VocabPartSummary Summarize(int row, RowScoring scoring, int numCandidates);

    /// <summary>
    /// Inverse-CDF walk over this part's tokens in id order with weights exp(score - <paramref name="reference"/>):
    /// the first token whose running weight exceeds <paramref name="target"/> (the last token with weight
    /// when rounding leaves the target just out of reach).
    /// </summary>
    int Walk(int row, RowScoring scoring, double reference, double target);

    /// <summary>The raw logits [R, count] fp32 on the CPU: for callers that need them whole (tests, log-probabilities).</summary>
    Tensor Read();
}
