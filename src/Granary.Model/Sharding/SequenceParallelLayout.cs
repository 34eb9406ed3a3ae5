using Granary.Model.Runtime;
using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// How one sequence-parallel step's tokens divide over a stage's shards, computed once per step and shared by
/// every stage: each shard's rows of the step (indices into its tokens) and their positions, the last stage's
/// logit rows each shard computes, and how the shards' outputs go back into step order.
/// </summary>
public sealed class SequenceParallelLayout
{
    readonly long[][] _rows, _positions, _logitRows;
    readonly (int Shard, int Local)[] _logitOwners;

    SequenceParallelLayout(IReadOnlyList<long[][]> assigned, long[][] rows, long[][] positions, (int, int)[] logitOwners, int numTokens)
    {
        Assigned = assigned;
        _rows = rows;
        _positions = positions;
        _logitOwners = logitOwners;
        NumTokens = numTokens;
        _logitRows = Enumerable.Range(0, rows.Length)
            .Select(shard => logitOwners.Where(o => o.Item1 == shard).Select(o => (long)o.Item2).ToArray())
            .ToArray();
    }

    /// <summary>[input][shard]: the positions of each input's new tokens that each shard computes and stores.</summary>
    public IReadOnlyList<long[][]> Assigned { get; }

    public int NumShards => _rows.Length;

    public int NumTokens { get; }

    public long[] Rows(int shard) => _rows[shard];

    public long[] Positions(int shard) => _positions[shard];

    /// <summary>The shard's logit rows, as indices among its own rows, in step order.</summary>
    public long[] LogitRows(int shard) => _logitRows[shard];

    /// <param name="assigned">[input][shard] positions, from each sequence's <see cref="SequencePositions.Assign"/>.</param>
    public static SequenceParallelLayout Of(IReadOnlyList<StepInput> inputs, IReadOnlyList<long[][]> assigned, StepLayout layout)
    {
        int shards = assigned[0].Length;
        var rows = new long[shards][];
        var positions = new long[shards][];
        for (int q = 0; q < shards; q++)
        {
            var shardRows = new List<long>();
            var shardPositions = new List<long>();
            long offset = 0;
            for (int i = 0; i < inputs.Count; i++)
            {
                long start = inputs[i].StartPosition;
                foreach (long position in assigned[i][q])
                {
                    shardRows.Add(offset + position - start);
                    shardPositions.Add(position);
                }
                offset += inputs[i].TokenIds.Count;
            }
            rows[q] = [.. shardRows];
            positions[q] = [.. shardPositions];
        }
        var owners = layout.LogitRows.Select(row =>
        {
            for (int q = 0; q < shards; q++)
            {
                int local = Array.IndexOf(rows[q], row);
                if (local >= 0) return (q, local);
            }
            throw new InvalidOperationException($"no sequence shard holds logit row {row}");
        }).ToArray();
        return new SequenceParallelLayout(assigned, rows, positions, owners, layout.TokenIds.Length);
    }

    /// <summary>The sequence-parallel view of this step for <paramref name="shard"/>, given the positions it held before it.</summary>
    public SequenceParallelStep StepFor(int shard, ISequenceParallelGroup group, IReadOnlyList<IReadOnlyList<long>> heldBefore) =>
        new(group, Assigned.Select((byShard, i) => new SequenceParallelSegment(byShard, [.. heldBefore[i], .. byShard[shard]])).ToList());

    /// <summary>The shards' hidden states [T_q, D] back in step order [T, D].</summary>
    public Tensor HiddenInStepOrder(IReadOnlyList<Tensor> outputs)
    {
        var first = outputs.First(o => o.size(0) > 0);
        var hidden = first.new_empty(NumTokens, first.size(1));
        for (int q = 0; q < outputs.Count; q++)
        {
            if (_rows[q].Length == 0) continue;
            using var rowIds = tensor(_rows[q], int64, hidden.device);
            hidden.index_copy_(0, rowIds, outputs[q]);
        }
        return hidden;
    }

    /// <summary>The shards' logit rows (each in its <see cref="LogitRows"/> order) back in step order.</summary>
    public Tensor LogitsInStepOrder(IReadOnlyList<Tensor> outputs)
    {
        var next = new int[outputs.Count];
        var picked = _logitOwners.Select(o => outputs[o.Shard].narrow(0, next[o.Shard]++, 1)).ToList();
        var logits = cat(picked, 0);
        foreach (var row in picked) row.Dispose();
        return logits;
    }
}
