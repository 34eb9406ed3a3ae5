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

    VocabPartSummary Summarize(int row, RowScoring scoring, int numCandidates)
    {
        float[] logits = Row(row);
        double max = double.NegativeInfinity;
        int argMax = 0;
        var scores = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++)
        {
            double score = scores[i] = scoring.Score(Range.Start + i, logits[i]);
            if (score > max)
            {
                max = score;
                argMax = i;
            }
        }
        double sum = 0;
        foreach (double score in scores) sum += Math.Exp(score - max);
        int count = Math.Min(numCandidates, logits.Length);
        var best = Best(scores, count);
        return new VocabPartSummary(max, Range.Start + argMax, max + Math.Log(sum),
            best.Select(i => Range.Start + i).ToArray(), best.Select(i => scores[i]).ToArray())
        {
            IsComplete = count == logits.Length,
        };
    }

    int Walk(int row, RowScoring scoring, double reference, double target)
    {
        float[] logits = Row(row);
        double running = 0;
        int last = -1;
        for (int i = 0; i < logits.Length; i++)
        {
            double weight = Math.Exp(scoring.Score(Range.Start + i, logits[i]) - reference);
            if (weight <= 0) continue;
            running += weight;
            last = i;
            if (running > target) return Range.Start + i;
        }
        if (last < 0) throw new InvalidOperationException($"{Range} has no token with weight in row {row}");
        return Range.Start + last;
    }

    public Tensor Read() => _logits.to(float32).cpu();

    // The indices of the count largest scores, largest first (ties: lower index first).
    static int[] Best(double[] scores, int count)
    {
        if (count == 0) return [];
        var heap = new PriorityQueue<int, (double Score, int NegIndex)>(count + 1);
        for (int i = 0; i < scores.Length; i++)
        {
            heap.Enqueue(i, (scores[i], -i));
            if (heap.Count > count) heap.Dequeue(); // drops the smallest score (the higher index on ties)
        }
        var best = new int[heap.Count];
        for (int j = best.Length - 1; j >= 0; j--) best[j] = heap.Dequeue();
        return best;
    }

    float[] Row(int row)
    {
        if (_rows[row] is { } cached) return cached;
        using var values = _logits[row].to(float32).cpu();
        return _rows[row] = values.data<float>().ToArray();
    }

    public void Dispose() => _logits.Dispose();
}
