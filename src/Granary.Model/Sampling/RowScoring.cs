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

    /// <summary>The score of a raw logit of token <paramref name="tokenId"/>.</summary>
    public double Score(int tokenId, float logit)
    {
        double value = logit;
        if (HasPenalty && SeenTokenIds.Contains(tokenId))
            value = value > 0 ? value / RepetitionPenalty : value * RepetitionPenalty;
        return IsGreedy ? value : value / Temperature;
    }
}
