using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// A stage's ranks in one process (tensor-parallel ranks, or sequence-parallel shards), each running its forward
/// on its own thread: an all-reduce is a
/// rendezvous where every rank leaves its partial in a shared slot and reads the others' in place (no copy
/// of any partial), summing them in rank order; an all-gather concatenates them the same way. Create the ranks of one group with <see cref="Create"/>.
/// </summary>
public sealed class InProcessTensorParallelGroup : ITensorParallelGroup, ISequenceParallelGroup
{
    readonly Rendezvous _rendezvous;

    InProcessTensorParallelGroup(Rendezvous rendezvous, int rank)
    {
        _rendezvous = rendezvous;
        Rank = rank;
    }

    public int Rank { get; }

    public int Size => _rendezvous.Size;

    /// <summary>The <paramref name="size"/> ranks of one new group, by rank (a group of one needs no rendezvous).</summary>
    public static IReadOnlyList<ITensorParallelGroup> Create(int size) =>
        size == 1 ? [SingleRankGroup.Instance] : CreateRanks(size);

    /// <summary>The <paramref name="size"/> ranks of one new group, by rank, each meeting the others at one rendezvous.</summary>
    public static IReadOnlyList<InProcessTensorParallelGroup> CreateRanks(int size)
    {
        var rendezvous = new Rendezvous(size);
        return Enumerable.Range(0, size).Select(r => new InProcessTensorParallelGroup(rendezvous, r)).ToArray();
    }

    public TResult Exchange<TResult>(Tensor mine, Func<IReadOnlyList<Tensor>, TResult> combine) => _rendezvous.Exchange(Rank, mine, combine);

    public Tensor AllReduceSum(Tensor partial) => _rendezvous.Exchange(Rank, partial, parts => RankOrder.Sum(parts));

    public Tensor AllGather(Tensor part) => _rendezvous.Exchange(Rank, part, parts => RankOrder.Gather(parts));

    /// <summary>Abandons the group: ranks waiting in an all-reduce (or arriving later) fail instead of hanging.</summary>
    public void Abort() => _rendezvous.Abort();
}
