using Granary.Abstractions;

namespace Granary.Model.Sampling;

/// <summary>
/// Draws a row's next token from logits split into vocabulary parts, without gathering them: each part
/// reports a summary (its best score and token, its log-sum-exp, its best candidates) and, for plain
/// temperature sampling, walks its own share of the distribution. The single-device sampler is the same
/// code over one part, so a vocabulary-parallel plan samples the same tokens for the same seed.
/// <list type="bullet">
/// <item>greedy: the best of the parts' (score, token), the lower token on ties.</item>
/// <item>top-k / top-p: the kept tokens are among the parts' best candidates (top-k: each part's k best;
/// top-p: candidates are widened until the kept mass, measured against the parts' log-sum-exps, reaches p),
/// so the draw happens on their few scores.</item>
/// <item>temperature only: one uniform u picks a part by its mass exp(lse − max) and the part walks its own
/// cumulative weights to the token: inverse-CDF in token-id order, the same order a single device walks.</item>
/// </list>
/// </summary>
public static class PartitionedSampler
{
    /// <summary>How many candidates a part sends first for top-p; widened 4× while the kept mass is not reached.</summary>
    public const int InitialTopPCandidates = 64;

    /// <param name="uniform">Draws u in [0, 1): called once for a non-greedy row, never for a greedy one.</param>
    public static int Sample(IReadOnlyList<IVocabPartLogits> parts, int row, SamplingParams parameters, RowScoring scoring, Func<double> uniform)
    {
        if (parts.Count == 0) throw new ArgumentException("no vocabulary parts", nameof(parts));
        if (scoring.IsGreedy) return Best(parts.Select(p => p.Summarize(row, scoring, 0)).ToList()).ArgMax;
        int vocab = parts.Sum(p => p.Range.Count);
        int topK = parameters.TopK > 0 && parameters.TopK < vocab ? parameters.TopK : 0;
        bool topP = parameters.TopP < 1.0;
        if (topK == 0 && !topP) return WalkParts(parts, row, scoring, uniform());
        int numCandidates = topK > 0 ? topK : InitialTopPCandidates;
        while (true)
        {
            var summaries = parts.Select(p => p.Summarize(row, scoring, numCandidates)).ToList();
            var kept = Kept(summaries, topK, parameters.TopP);
            if (kept is not null) return WalkCandidates(kept, uniform());
            numCandidates *= 4; // the top-p mass lies beyond the candidates: ask for more
        }
    }

    static VocabPartSummary Best(IReadOnlyList<VocabPartSummary> summaries)
    {
        var best = summaries[0];
        foreach (var summary in summaries.Skip(1))
            if (summary.MaxScore > best.MaxScore) best = summary;
        return best;
    }

    // Plain temperature: pick the part by its mass, then let it walk to the token.
    static int WalkParts(IReadOnlyList<IVocabPartLogits> parts, int row, RowScoring scoring, double u)
    {
        var summaries = parts.Select(p => p.Summarize(row, scoring, 0)).ToList();
        double reference = Best(summaries).MaxScore;
        double[] masses = summaries.Select(s => Math.Exp(s.LogSumExp - reference)).ToArray();
        double target = u * masses.Sum();
        double before = 0;
        for (int p = 0; p < parts.Count; p++)
        {
            if (masses[p] > 0 && (before + masses[p] > target || p == parts.Count - 1))
                return parts[p].Walk(row, scoring, reference, target - before);
            before += masses[p];
        }
        return parts[^1].Walk(row, scoring, reference, target - before);
    }

    // The tokens top-k and top-p keep, when the candidates decide them; null when top-p needs more candidates.
    static List<(int Id, double Score)>? Kept(IReadOnlyList<VocabPartSummary> summaries, int topK, double topP)
    {
        var merged = summaries.SelectMany(s => s.CandidateIds.Zip(s.CandidateScores))
            .OrderByDescending(c => c.Second).ThenBy(c => c.First)
            .Select(c => (Id: c.First, Score: c.Second))
            .ToList();
        double logNormalizer;
        if (topK > 0)
        {
            // Every part sent its k best, so the k best overall are here; ties with the k-th stay, as on one device.
            double kth = merged[topK - 1].Score;
            merged = merged.Where(c => c.Score >= kth).ToList();
            logNormalizer = LogSumExp(merged.Select(c => c.Score));
        }
        else
        {
            double reference = Best(summaries).MaxScore;
            logNormalizer = reference + Math.Log(summaries.Sum(s => Math.Exp(s.LogSumExp - reference)));
        }
        if (topP >= 1.0) return merged;
        // Keep the shortest prefix (by descending probability) whose mass reaches p; the best token always stays.
        double massBefore = 0;
        for (int i = 0; i < merged.Count; i++)
        {
            if (massBefore >= topP) return merged.GetRange(0, i);
            massBefore += Math.Exp(merged[i].Score - logNormalizer);
        }
        // Past the last candidate: the cut is there if the mass is reached, or when nothing is left unseen.
        return massBefore >= topP || topK > 0 || summaries.All(s => s.IsComplete) ? merged : null;
    }

    // Inverse-CDF over the kept tokens in id order (the order a single device walks its vocabulary).
    static int WalkCandidates(List<(int Id, double Score)> kept, double u)
    {
        double reference = kept.Max(c => c.Score);
        var byId = kept.OrderBy(c => c.Id).ToList();
        double[] weights = byId.Select(c => Math.Exp(c.Score - reference)).ToArray();
        double target = u * weights.Sum();
        double running = 0;
        for (int i = 0; i < byId.Count; i++)
        {
            running += weights[i];
            if (running > target) return byId[i].Id;
        }
        return byId[^1].Id;
    }

    static double LogSumExp(IEnumerable<double> scores)
    {
        var list = scores as IReadOnlyCollection<double> ?? scores.ToList();
        double max = list.Max();
        return max + Math.Log(list.Sum(s => Math.Exp(s - max)));
    }
}
