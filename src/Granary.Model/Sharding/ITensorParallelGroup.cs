using Granary.Model.Runtime;
using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// The ranks of one pipeline stage. A row-parallel layer's output is the sum of every rank's partial product;
/// <see cref="AllReduceSum"/> blocks until all ranks of the group have contributed theirs and returns that sum.
/// Every rank must get bitwise the same result (so the ranks' replicated state never drifts): implementations
/// add the partials in rank order.
/// </summary>
public interface ITensorParallelGroup
{
    int Rank { get; }

    int Size { get; }

    /// <summary>Sum over ranks of <paramref name="partial"/> (same shape on every rank); a new tensor.</summary>
    Tensor AllReduceSum(Tensor partial);

    /// <summary>Every rank's <paramref name="part"/> (same shape but dim 0), concatenated along dim 0 in rank order; a new tensor.</summary>
    Tensor AllGather(Tensor part);
}

/// <summary>A group of one: the partial product is already the whole.</summary>
public sealed class SingleRankGroup : ITensorParallelGroup
{
    public static readonly SingleRankGroup Instance = new();

    public int Rank => 0;

    public int Size => 1;

    public Tensor AllReduceSum(Tensor partial) => partial.alias();

    public Tensor AllGather(Tensor part) => part.alias();
}

/// <summary>
/// How every implementation combines the ranks' tensors: always in rank order, so that each rank computes
/// bitwise the same result from the same inputs.
/// </summary>
public static class RankOrder
{
    /// <summary>parts[0] + parts[1] + ..., added in that order; a new tensor.</summary>
    public static Tensor Sum(IReadOnlyList<Tensor> parts)
    {
        var sum = parts[0].clone();
        for (int r = 1; r < parts.Count; r++) sum.add_(parts[r], Scalars.One);
        return sum;
    }

    /// <summary>The parts concatenated along dim 0; a new tensor.</summary>
    public static Tensor Gather(IReadOnlyList<Tensor> parts) => cat(parts.ToArray(), 0);
}
