using Granary.Abstractions;

namespace Granary.Model.Sampling;

/// <summary>
/// Draws rows' next tokens from logits split into vocabulary parts, without gathering them: each part
/// reports summaries (a row's best score and token, its log-sum-exp, its best candidates) and, for plain
/// temperature sampling, walks its own share of a row's distribution. The single-device sampler is the same
/// code over one part, so a vocabulary-parallel plan samples the same tokens for the same seed.
/// <list type="bullet">
/// <item>greedy: the best of the parts' (score, token), the lower token on ties.</item>
/// <item>top-k / top-p: the kept tokens are among the parts' best candidates (top-k: each part's k best;
/// top-p: candidates are widened until the kept mass, measured against the parts' log-sum-exps, reaches p),
/// so the draw happens on their few scores.</item>
/// <item>temperature only: one uniform u picks a part by its mass exp(lse − max) and the part walks its own
/// cumulative weights to the token: inverse-CDF in token-id order, the same order a single device walks.</item>
/// </list>
/// All rows of a batch ask each part one question at a time: at most three round trips per part per step.
/// </summary>
public static class PartitionedSampler
{
    /// <summary>How many candidates a part sends first for top-p; widened 4× while the kept mass is not reached.</summary>
    public const int InitialTopPCandidates = 64;

    /// <summary>Samples every request's row; returns the token ids in request order.</summary>
    public static int[] Sample(IReadOnlyList<IVocabPartLogits> parts, IReadOnlyList<RowSampleRequest> requests)
    {
        if (parts.Count == 0) throw new ArgumentException("no vocabulary parts", nameof(parts));
        int vocab = parts.Sum(p => p.Range.Count);
        var tokens = new int[requests.Count];
        var pending = Enumerable.Range(0, requests.Count).Select(i => (Index: i, Candidates: FirstCandidates(requests[i], vocab))).ToList();
        while (pending.Count > 0)
        {
            var byPart = parts.Select(p => p.Summarize(pending.Select(q => new PartQuery(requests[q.Index].Row, requests[q.Index].Scoring, q.Candidates)).ToList())).ToList();
            var widen = new List<(int Index, int Candidates)>();
            var walks = new List<(int Index, int Part, PartWalk Walk)>();
            for (int j = 0; j < pending.Count; j++)
            {
                var (index, candidates) = pending[j];
                var request = requests[index];
                var summaries = byPart.Select(s => s[j]).ToList();
                if (request.Scoring.IsGreedy)
                    tokens[index] = VocabPartSummaries.Best(summaries).ArgMax;
                else if (!Filters(request.Parameters, vocab))
                    walks.Add(ChoosePart(index, request, summaries));
                else if (Kept(summaries, TopK(request.Parameters, vocab), request.Parameters.TopP) is { } kept)
                    tokens[index] = WalkCandidates(kept, request.Uniform());
                else
                    widen.Add((index, candidates * 4)); // the top-p mass lies beyond the candidates: ask for more
            }
            foreach (var group in walks.GroupBy(w => w.Part))
            {
                var list = group.ToList();
                var drawn = parts[group.Key].Walk(list.Select(w => w.Walk).ToList());
                for (int k = 0; k < list.Count; k++) tokens[list[k].Index] = drawn[k];
            }
            pending = widen;
        }
        return tokens;
    }

    static int TopK(SamplingParams p, int vocab) => p.TopK > 0 && p.TopK < vocab ? p.TopK : 0;

    static bool Filters(SamplingParams p, int vocab) => TopK(p, vocab) > 0 || p.TopP < 1.0;

    static int FirstCandidates(RowSampleRequest request, int vocab) =>
        request.Scoring.IsGreedy || !Filters(request.Parameters, vocab) ? 0
        : TopK(request.Parameters, vocab) is > 0 and var k ? k
        : InitialTopPCandidates;

    // Plain temperature: u picks the part by its mass; the part walks the rest of the way to the token.
    static (int, int, PartWalk) ChoosePart(int index, RowSampleRequest request, IReadOnlyList<VocabPartSummary> summaries)
    {
        double reference = VocabPartSummaries.Best(summaries).MaxScore;
        double[] masses = summaries.Select(s => Math.Exp(s.LogSumExp - reference)).ToArray();
        double target = request.Uniform() * masses.Sum();
        double before = 0;
        int part = masses.Length - 1;
        for (int p = 0; p < masses.Length; p++)
        {
            if (masses[p] > 0 && before + masses[p] > target)
            {
                part = p;
                break;
            }
            if (p < masses.Length - 1) before += masses[p];
        }
        return (index, part, new PartWalk(request.Row, request.Scoring, reference, target - before));
    }

    // The tokens top-k and top-p keep, when the candidates decide them; null when top-p needs more candidates.
    static List<(int Id, double Score)>? Kept(IReadOnlyList<VocabPartSummary> summaries, int topK, double topP)
    {
        var merged = VocabPartSummaries.MergedCandidates(summaries);
        double logNormalizer;
        if (topK > 0)
        {
            // Every part sent its k best, so the k best overall are here; ties with the k-th stay, as on one device.
            double kth = merged[topK - 1].Score;
            merged = merged.Where(c => c.Score >= kth).ToList();
            logNormalizer = LogSumExp(merged.Select(c => c.Score).ToList());
        }
        else
            logNormalizer = VocabPartSummaries.LogNormalizer(summaries);
        if (topP >= 1.0) return merged;
        // The merged candidates are the vocabulary's best tokens in order only down to the lowest score every
        // unfinished part has sent: below it, a part's next token could outrank what is listed. (Top-k's
        // kept set is complete, so it has no such floor.)
        double floor = topK > 0 ? double.NegativeInfinity
            : summaries.Where(s => !s.IsComplete && s.CandidateScores.Length > 0).Select(s => s.CandidateScores[^1]).DefaultIfEmpty(double.NegativeInfinity).Max();
        // Keep the shortest prefix (by descending probability) whose mass reaches p; the best token always stays.
        double massBefore = 0;
        for (int i = 0; i < merged.Count; i++)
        {
            if (massBefore >= topP) return merged.GetRange(0, i);
            if (merged[i].Score < floor) return null; // the cut lies past what the candidates settle
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
        return byId[InverseCdf.Index(weights, u * weights.Sum())].Id;
    }

    static double LogSumExp(IReadOnlyList<double> scores)
    {
        double max = scores.Max();
        return max + Math.Log(scores.Sum(s => Math.Exp(s - max)));
    }
}

/// <summary>
/// One row to sample: its sequence's parameters and scoring, and its random stream (<paramref name="Uniform"/>
/// draws u in [0, 1); it is called once for a non-greedy row, never for a greedy one).
/// </summary>
public sealed record RowSampleRequest(int Row, SamplingParams Parameters, RowScoring Scoring, Func<double> Uniform);
