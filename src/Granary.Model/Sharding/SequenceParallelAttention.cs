using Granary.Model.Runtime;
using Granary.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// One layer's attention on a sequence-parallel shard, which holds only some of each sequence's positions.
/// Two ways to meet the other shards, chosen per sequence the same way on every shard:
/// <list type="bullet">
/// <item><b>Ring</b> (a sequence's first prompt chunk, split over the shards): each shard keeps its query
/// chunk and the K/V blocks travel (Ring Self-Attention): it attends its queries to every block in ring
/// order (its own, then the previous shard's, …), skipping blocks wholly in its future, and merges the
/// partials by log-sum-exp. K/V are G times smaller than queries under GQA, so blocks are what should move.</item>
/// <item><b>Split-KV</b> (decode tokens and later chunks, attending to a cache spread over the shards): the
/// queries go to every shard, each attends them to the keys it holds, and the partial outputs come back and
/// merge by log-sum-exp (as in flash-decoding). A cache is far larger than a step's queries.</item>
/// </list>
/// Both give exactly the attention over all keys (to rounding). Shapes: q [T_r, H, Dh] (scaled, rotated),
/// k/v [T_r, Hkv, Dh] of this shard's new tokens, segment by segment; output [T_r, H*Dh].
/// </summary>
public sealed class SequenceParallelAttention(int layerIndex, int numHeads, int numKvHeads, int headDim, int? slidingWindow)
{
    readonly int _group = numHeads / numKvHeads;

    public Tensor Attend(IReadOnlyList<BatchSegment> segments, SequenceParallelStep step, Tensor q, Tensor k, Tensor v)
    {
        var offsets = new long[segments.Count];
        for (int s = 1; s < segments.Count; s++) offsets[s] = offsets[s - 1] + segments[s - 1].NumTokens;
        for (int s = 0; s < segments.Count; s++)
        {
            long n = segments[s].NumTokens;
            if (n == 0) continue;
            var cache = segments[s].Cache ?? throw new InvalidOperationException("sequence-parallel attention needs every sequence's cache");
            cache.Write(layerIndex, k.narrow(0, offsets[s], n).transpose(0, 1), v.narrow(0, offsets[s], n).transpose(0, 1));
        }
        var ring = step.Segments.Select(s => s.StartsTheSequence).ToArray();
        var own = new Tensor?[segments.Count];
        if (ring.Any(r => r)) AttendRing(segments, step, ring, offsets, q, k, v, own);
        if (ring.Any(r => !r)) AttendSplitKv(segments, step, ring, offsets, q, own);
        var rows = Enumerable.Range(0, segments.Count).Where(s => segments[s].NumTokens > 0).Select(s => own[s]!).ToList();
        return rows.Count == 0 ? q.new_empty(0, numHeads * headDim) : cat(rows, 0);
    }

    // Each shard's K/V blocks of the ring sequences go to every shard; each attends its own queries to them.
    void AttendRing(IReadOnlyList<BatchSegment> segments, SequenceParallelStep step, bool[] ring, long[] offsets, Tensor q, Tensor k, Tensor v, Tensor?[] own)
    {
        int rank = step.Group.Rank;
        var ringSegments = Enumerable.Range(0, segments.Count).Where(s => ring[s]).ToList();
        // This shard's blocks, back to back: [2, sum n, Hkv, Dh].
        var mine = cat(ringSegments.Select(s => stack([k.narrow(0, offsets[s], segments[s].NumTokens), v.narrow(0, offsets[s], segments[s].NumTokens)])).ToList(), 1);
        var blocks = step.Group.Exchange(mine, all => all.Select(t => t.clone()).ToList());
        int shards = blocks.Count;
        foreach (int s in ringSegments)
        {
            var segment = step.Segments[s];
            int n = segment.QueryPositionsByRank[rank].Length;
            if (n == 0) continue;
            var queries = Grouped(q.narrow(0, offsets[s], n));                                   // [Hkv, G*n, Dh]
            long[] queryPositions = segment.QueryPositionsByRank[rank];
            (Tensor Output, Tensor LogSumExp)? merged = null;
            for (int t = 0; t < shards; t++)
            {
                int source = ((rank - t) % shards + shards) % shards;
                long[] keyPositions = segment.QueryPositionsByRank[source];
                if (keyPositions.Length == 0 || keyPositions[0] > queryPositions[^1]) continue; // a block wholly in the future
                int start = ringSegments.TakeWhile(other => other != s).Sum(other => step.Segments[other].QueryPositionsByRank[source].Length);
                var block = blocks[source].narrow(1, start, keyPositions.Length);                  // [2, m, Hkv, Dh]
                var partial = PartialAttention.Attend(queries, block[0].transpose(0, 1), block[1].transpose(0, 1), Allowed(queryPositions, keyPositions, q.device));
                merged = merged is { } soFar ? PartialAttention.Merge(soFar, partial) : partial;
            }
            own[s] = Ungrouped(merged!.Value.Output, n, 0, n, q.dtype);
        }
    }

    // Every shard's queries of the other sequences come here; this shard's partials over the keys it holds go back.
    void AttendSplitKv(IReadOnlyList<BatchSegment> segments, SequenceParallelStep step, bool[] ring, long[] offsets, Tensor q, Tensor?[] own)
    {
        int rank = step.Group.Rank;
        var split = Enumerable.Range(0, segments.Count).Where(s => !ring[s]).ToList();
        // Each sequence's queries from every shard, in shard order: [Hkv, G*n_s, Dh].
        var queries = step.Group.Exchange(q, all => split.Select(s =>
        {
            var parts = new List<Tensor>();
            for (int r = 0; r < all.Count; r++)
            {
                int offset = step.Segments.Take(s).Sum(other => other.QueryPositionsByRank[r].Length);
                int n = step.Segments[s].QueryPositionsByRank[r].Length;
                if (n > 0) parts.Add(all[r].narrow(0, offset, n));
            }
            return Grouped(cat(parts, 0));
        }).ToList());

        var outputs = new List<Tensor>();
        var logSumExps = new List<Tensor>();
        for (int j = 0; j < split.Count; j++)
        {
            var segment = step.Segments[split[j]];
            long numRows = queries[j].size(1);
            if (segment.KeyPositions.Length == 0)
            {
                outputs.Add(zeros(numKvHeads, numRows, headDim, dtype: q.dtype, device: q.device));
                logSumExps.Add(full(numKvHeads, numRows, 1, Scalars.NegativeInfinity, dtype: ScalarType.Float32, device: q.device));
                continue;
            }
            var (keys, values) = segments[split[j]].Cache!.Read(layerIndex, segments[split[j]].NumTokens); // [Hkv, L, Dh]
            var queryPositions = segment.QueryPositionsByRank.SelectMany(p => p).ToArray();
            var (output, lse) = PartialAttention.Attend(queries[j], keys, values, Allowed(queryPositions, segment.KeyPositions, q.device));
            outputs.Add(output);
            logSumExps.Add(lse);
        }
        // One exchange carries both halves of a partial: [Hkv, sum G*n_s, Dh + 1] = (output, log-sum-exp) in fp32.
        var mine = cat([cat(outputs, 1).to(ScalarType.Float32), cat(logSumExps, 1)], 2);
        step.Group.Exchange(mine, all =>
        {
            long start = 0;
            for (int j = 0; j < split.Count; j++)
            {
                var segment = step.Segments[split[j]];
                long width = _group * (long)segment.NumQueries;
                (Tensor Output, Tensor LogSumExp)? merged = null;
                foreach (var partial in all)
                {
                    var rows = partial.narrow(1, start, width);
                    var next = (rows.narrow(2, 0, headDim), rows.narrow(2, headDim, 1));
                    merged = merged is { } soFar ? PartialAttention.Merge(soFar, next) : next;
                }
                start += width;
                int n = segment.QueryPositionsByRank[rank].Length;
                if (n > 0) own[split[j]] = Ungrouped(merged!.Value.Output, segment.NumQueries, segment.QueryOffset(rank), n, q.dtype);
            }
            return 0;
        });
    }

    // [n, H, Dh] -> [Hkv, G*n, Dh]: the query heads of one KV head folded into rows (row g*n + i).
    Tensor Grouped(Tensor rows) => rows.transpose(0, 1).reshape(numKvHeads, _group * rows.size(0), headDim);

    // Rows [offset, offset + n) of the n_all grouped queries' output [Hkv, G*n_all, Dh] -> [n, H*Dh] (a copy).
    Tensor Ungrouped(Tensor output, long numAll, long offset, long n, ScalarType dtype) =>
        output.view(numKvHeads, _group, numAll, headDim).narrow(2, offset, n)
            .permute(2, 0, 1, 3).reshape(n, numHeads * headDim).to(dtype).clone();

    // Query rows g*n + i (position qp[i]) may see key j (position kp[j]) when kp[j] <= qp[i] (and kp[j] > qp[i] - window): [G*n, L].
    Tensor Allowed(long[] queryPositions, long[] keyPositions, Device device)
    {
        var queries = tensor(queryPositions, int64, device).unsqueeze(1);
        var keys = tensor(keyPositions, int64, device).unsqueeze(0);
        var allowed = keys.le(queries);
        if (slidingWindow is { } window)
        {
            using var span = window.ToScalar(); // held for the call (see Scalars)
            allowed = allowed.logical_and(keys.gt(queries.sub(span)));
        }
        return allowed.repeat(_group, 1);
    }
}
