namespace Granary.Model.Sampling;

/// <summary>
/// Log-probabilities of sampled tokens under the raw next-token distribution, from logits split into
/// vocabulary parts without gathering them: the normalizer is the log-sum-exp of the parts' log-sum-exps,
/// the top-N are the best of the parts' N best, and the sampled token's logit comes from its own part.
/// Rows that ask for none are skipped.
/// </summary>
public static class PartitionedLogprobs
{
    /// <summary>For row i (of <paramref name="rows"/>): the sampled token's log-probability and the top-N (id, log-probability), best first.</summary>
    public static (double Chosen, (int Id, double Logprob)[] Top)?[] For(IReadOnlyList<IVocabPartLogits> parts, IReadOnlyList<int> rows, IReadOnlyList<int> tokenIds, IReadOnlyList<int?> topLogprobs)
    {
        var result = new (double, (int, double)[])?[rows.Count];
        var asking = Enumerable.Range(0, rows.Count).Where(i => topLogprobs[i] is not null).ToList();
        if (asking.Count == 0) return result;
        var raw = new RowScoring(Temperature: 0, RepetitionPenalty: 1.0, SeenTokenIds: Array.Empty<int>());
        // At least one candidate, so that every part also reports its log-sum-exp.
        var summaries = parts.Select(p => p.Summarize(asking.Select(i => new PartQuery(rows[i], raw, Math.Max(1, topLogprobs[i]!.Value))).ToList())).ToList();
        var chosen = new double[asking.Count];
        foreach (var (part, index) in parts.Select((p, index) => (p, index)))
        {
            var mine = Enumerable.Range(0, asking.Count).Where(j => part.Range.Contains(tokenIds[asking[j]])).ToList();
            if (mine.Count == 0) continue;
            var logits = part.LogitsAt(mine.Select(j => (rows[asking[j]], tokenIds[asking[j]])).ToList());
            for (int k = 0; k < mine.Count; k++) chosen[mine[k]] = logits[k];
        }
        for (int j = 0; j < asking.Count; j++)
        {
            var rowSummaries = summaries.Select(s => s[j]).ToList();
            double logNormalizer = VocabPartSummaries.LogNormalizer(rowSummaries);
            int n = topLogprobs[asking[j]]!.Value;
            var top = VocabPartSummaries.MergedCandidates(rowSummaries).Take(n).Select(c => (c.Id, c.Score - logNormalizer)).ToArray();
            result[asking[j]] = (chosen[j] - logNormalizer, top);
        }
        return result;
    }
}
