using TorchSharp;
using Granary.Model.Runtime;
using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// Causal self-attention of one sequence split into S contiguous chunks, as S sequence-parallel shards compute
/// it (Ring Self-Attention): shard i keeps its query chunk; at ring step t it holds the K/V block of chunk
/// (i - t) mod S, attends to it (whole when that chunk is earlier, causally when it is its own, not at all when
/// it is later), merges the partial by log-sum-exp, and passes the block on. No shard ever holds the whole
/// sequence's K/V. Here the ring runs in one process, step by step, as the reference for shards on grains.
/// </summary>
public static class RingAttention
{
    /// <summary>
    /// queries[i]: [Hkv, G*n_i, Dh] (scaled; row g*n_i + r is query r of chunk i for head g of the group),
    /// keys[i]/values[i]: [Hkv, n_i, Dh]; chunk i starts where chunk i-1 ends. Returns each chunk's output
    /// [Hkv, G*n_i, Dh] in the same layout.
    /// </summary>
    public static IReadOnlyList<Tensor> Attend(IReadOnlyList<Tensor> queries, IReadOnlyList<Tensor> keys, IReadOnlyList<Tensor> values, int numQueriesPerKv)
    {
        int shards = queries.Count;
        var starts = new int[shards];
        for (int i = 1; i < shards; i++) starts[i] = starts[i - 1] + (int)keys[i - 1].size(1);
        var outputs = new Tensor[shards];
        for (int i = 0; i < shards; i++)
        {
            (Tensor Output, Tensor LogSumExp)? merged = null;
            for (int step = 0; step < shards; step++)
            {
                int block = ((i - step) % shards + shards) % shards;
                if (block > i) continue; // a later chunk: every key is in this chunk's future
                using var allowed = block == i ? CausalMask(queries[i].size(1) / numQueriesPerKv, numQueriesPerKv, queries[i].device) : null;
                var partial = PartialAttention.Attend(queries[i], keys[block], values[block], allowed);
                if (merged is not { } current)
                {
                    merged = partial;
                    continue;
                }
                merged = PartialAttention.Merge(current, partial);
                current.Output.Dispose();
                current.LogSumExp.Dispose();
                partial.Output.Dispose();
                partial.LogSumExp.Dispose();
            }
            outputs[i] = merged!.Value.Output;
            merged.Value.LogSumExp.Dispose();
        }
        return outputs;
    }

    // Query r of a chunk (rows g*n + r for every head g of the group) sees keys 0..r of the same chunk: [G*n, n].
    static Tensor CausalMask(long n, int group, Device device)
    {
        using Scalar count = n; // held for the calls (see Scalars)
        var rows = arange(count, device: device).unsqueeze(1);
        var cols = arange(count, device: device).unsqueeze(0);
        return cols.le(rows).repeat(group, 1);
    }
}
