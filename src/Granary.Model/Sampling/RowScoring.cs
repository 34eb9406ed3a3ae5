using Granary.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Sampling;

/// <summary>
/// How one sequence turns a row of raw logits into the scores it samples from: the repetition penalty on the
/// tokens it has seen (HF convention: a positive logit divided by the penalty, a negative one multiplied),
/// then division by the temperature (none when greedy). Small enough to send to every vocabulary part.
/// </summary>
public sealed record RowScoring(double Temperature, double RepetitionPenalty, IReadOnlyCollection<int> SeenTokenIds)
{
    public bool IsGreedy => Temperature == 0;

    public bool HasPenalty => RepetitionPenalty != 1.0 && SeenTokenIds.Count > 0;

    /// <summary>
    /// The repetition penalty on <paramref name="indices"/> (positions in <paramref name="scores"/> [n] of seen
    /// tokens): a new tensor, or <paramref name="scores"/> itself when there is nothing to penalize.
    /// </summary>
    public static Tensor Penalize(Tensor scores, IReadOnlyCollection<long> indices, double penalty)
    {
        if (penalty == 1.0 || indices.Count == 0) return scores;
        var ids = tensor(indices.ToArray(), int64, scores.device);
        var seen = scores.index_select(0, ids);
        using var factor = penalty.ToScalar(); // held for the calls (see Scalars)
        return scores.scatter(0, ids, where(seen.gt(Scalars.Zero), seen.div(factor), seen.mul(factor)));
    }
}
