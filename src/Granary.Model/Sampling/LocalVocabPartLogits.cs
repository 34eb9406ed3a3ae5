using Granary.Model.Runtime;
using Granary.Model.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Sampling;

/// <summary>
/// A vocabulary part whose logits [R, count] are a tensor in this process (a shard's, or the whole
/// vocabulary as one part on a single device). Rows are copied to the CPU once, when first asked about.
/// </summary>
public sealed class LocalVocabPartLogits : IVocabPartLogits
{
    readonly Tensor _logits;
    readonly float[]?[] _rows;

    /// <summary>Takes ownership of <paramref name="logits"/> [R, range.Count].</summary>
    public LocalVocabPartLogits(Tensor logits, VocabRange range)
    {
        if (logits.dim() != 2 || logits.size(1) != range.Count)
            throw new ArgumentException($"logits [{string.Join(", ", logits.shape)}] do not fit {range}", nameof(logits));
        _logits = logits;
        Range = range;
        _rows = new float[]?[logits.size(0)];
    }

    public VocabRange Range { get; }

    public IReadOnlyList<VocabPartSummary> Summarize(IReadOnlyList<PartQuery> queries) =>
        queries.Select(q => Summarize(q.Row, q.Scoring, q.NumCandidates)).ToList();

    public IReadOnlyList<int> Walk(IReadOnlyList<PartWalk> walks) =>
        walks.Select(w => Walk(w.Row, w.Scoring, w.Reference, w.Target)).ToList();

    // Vectorized on the logits' device, in float64 so that sums over a part do not depend on its size.
    VocabPartSummary Summarize(int row, RowScoring scoring, int numCandidates)
    {
        using var scope = NewDisposeScope();
        var scores = Scores(row, scoring);
        var (max, argMax) = scores.max(0);
        double maxScore = max.item<double>();
        double logSumExp = scoring.IsGreedy && numCandidates == 0 ? maxScore : scores.logsumexp(0).item<double>();
        int count = Math.Min(numCandidates, Range.Count);
        int[] ids = [];
        double[] values = [];
        if (count > 0)
        {
            var (top, topIds) = scores.topk(count, sorted: true);
            values = top.cpu().data<double>().ToArray();
            ids = topIds.cpu().data<long>().Select(i => Range.Start + (int)i).ToArray();
        }
        return new VocabPartSummary(maxScore, Range.Start + (int)argMax.item<long>(), logSumExp, ids, values) { IsComplete = count == Range.Count };
    }

    // Row [count] float64: the repetition penalty on the seen ids in this range, then the temperature.
    Tensor Scores(int row, RowScoring scoring)
    {
        var scores = _logits[row].to(float64);
        if (scoring.HasPenalty)
        {
            long[] seen = scoring.SeenTokenIds.Where(Range.Contains).Select(id => (long)(id - Range.Start)).ToArray();
            scores = RowScoring.Penalize(scores, seen, scoring.RepetitionPenalty);
        }
        if (scoring.IsGreedy) return scores;
        using var temperature = scoring.Temperature.ToScalar(); // held for the call (see Scalars)
        return scores.div(temperature);
    }

    int Walk(int row, RowScoring scoring, double reference, double target)
    {
        double[] weights;
        using (var scope = NewDisposeScope())
        using (var shift = reference.ToScalar())
            weights = Scores(row, scoring).sub(shift).exp().cpu().data<double>().ToArray();
        int index = InverseCdf.Index(weights, target);
        return index >= 0 ? Range.Start + index : throw new InvalidOperationException($"{Range} has no token with weight in row {row}");
    }

    public IReadOnlyList<double> LogitsAt(IReadOnlyList<(int Row, int TokenId)> picks) =>
        picks.Select(p => Range.Contains(p.TokenId)
            ? (double)Row(p.Row)[p.TokenId - Range.Start]
            : throw new ArgumentOutOfRangeException(nameof(picks), $"token {p.TokenId} is outside {Range}")).ToList();

    public Tensor Read() => _logits.to(float32).cpu();

    float[] Row(int row)
    {
        if (_rows[row] is { } cached) return cached;
        using var values = _logits[row].to(float32).cpu();
        return _rows[row] = values.data<float>().ToArray();
    }

    public void Dispose() => _logits.Dispose();
}
