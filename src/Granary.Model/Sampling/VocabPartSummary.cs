namespace Granary.Model.Sampling;

/// <summary>
/// What one vocabulary part tells the sampler about one row, instead of its logits: the largest score and
/// its token, the log-sum-exp of all its scores, and its best <see cref="CandidateIds"/> (global ids, scores
/// descending). A few numbers per part, whatever the vocabulary size.
/// </summary>
public sealed record VocabPartSummary(double MaxScore, int ArgMax, double LogSumExp, int[] CandidateIds, double[] CandidateScores)
{
    /// <summary>Whether the candidates are every token of the part (nothing left unseen).</summary>
    public bool IsComplete { get; init; }
}
