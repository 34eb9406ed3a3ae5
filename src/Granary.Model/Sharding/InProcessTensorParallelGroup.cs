using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// Tensor-parallel ranks in one process, each running its forward on its own thread: an all-reduce is a
/// rendezvous where every rank leaves its partial in a shared slot and reads the others' in place (no copy
/// of any partial), summing them in rank order; an all-gather concatenates them the same way. Create the ranks of one group with <see cref="Create"/>.
/// </summary>
public sealed class InProcessTensorParallelGroup : ITensorParallelGroup
{
    readonly Rendezvous _rendezvous;

    InProcessTensorParallelGroup(Rendezvous rendezvous, int rank)
    {
        _rendezvous = rendezvous;
        Rank = rank;
    }

    public int Rank { get; }

    public int Size => _rendezvous.Size;

    /// <summary>The <paramref name="size"/> ranks of one new group, by rank.</summary>
    public static IReadOnlyList<ITensorParallelGroup> Create(int size)
    {
        if (size == 1) return [SingleRankGroup.Instance];
        var rendezvous = new Rendezvous(size);
        return Enumerable.Range(0, size).Select(r => (ITensorParallelGroup)new InProcessTensorParallelGroup(rendezvous, r)).ToArray();
    }

    public Tensor AllReduceSum(Tensor partial) => _rendezvous.Exchange(Rank, partial, parts => RankOrder.Sum(parts));

    public Tensor AllGather(Tensor part) => _rendezvous.Exchange(Rank, part, parts => RankOrder.Gather(parts));

    /// <summary>Abandons the group: ranks waiting in an all-reduce (or arriving later) fail instead of hanging.</summary>
    public void Abort() => _rendezvous.Abort();
}
