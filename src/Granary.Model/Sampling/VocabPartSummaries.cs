namespace Granary.Model.Sampling;

/// <summary>What the sampler and the log-probability report both read from one row's part summaries.</summary>
public static class VocabPartSummaries
{
    /// <summary>The part holding the row's largest score (the lowest part on ties).</summary>
    public static VocabPartSummary Best(IReadOnlyList<VocabPartSummary> summaries)
    {
        var best = summaries[0];
        foreach (var summary in summaries.Skip(1))
            if (summary.MaxScore > best.MaxScore) best = summary;
        return best;
    }

    /// <summary>The log-sum-exp over the whole vocabulary, from the parts' own.</summary>
    public static double LogNormalizer(IReadOnlyList<VocabPartSummary> summaries)
    {
        double reference = Best(summaries).MaxScore;
        return reference + Math.Log(summaries.Sum(s => Math.Exp(s.LogSumExp - reference)));
    }

    /// <summary>Every part's candidates, best first (the lower id on ties).</summary>
    public static List<(int Id, double Score)> MergedCandidates(IReadOnlyList<VocabPartSummary> summaries) =>
        summaries.SelectMany(s => s.CandidateIds.Zip(s.CandidateScores))
            .OrderByDescending(c => c.Second).ThenBy(c => c.First)
            .Select(c => (Id: c.First, Score: c.Second))
            .ToList();
}
