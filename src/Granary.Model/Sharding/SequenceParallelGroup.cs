using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// The sequence-parallel ranks of one pipeline stage: each holds the stage's layers whole and a share of every
/// sequence's positions (and their KV). In attention they exchange queries and partial outputs.
/// </summary>
public interface ISequenceParallelGroup
{
    int Rank { get; }

    int Size { get; }

    /// <summary>
    /// Blocks until every rank has offered its tensor, then runs <paramref name="combine"/> over all of them in
    /// rank order (valid only during the call) and returns its result.
    /// </summary>
    TResult Exchange<TResult>(Tensor mine, Func<IReadOnlyList<Tensor>, TResult> combine);
}

/// <summary>Sequence-parallel ranks in one process, each on its own thread, meeting at a <see cref="Rendezvous"/>.</summary>
public sealed class InProcessSequenceParallelGroup : ISequenceParallelGroup
{
    readonly Rendezvous _rendezvous;

    InProcessSequenceParallelGroup(Rendezvous rendezvous, int rank)
    {
        _rendezvous = rendezvous;
        Rank = rank;
    }

    public int Rank { get; }

    public int Size => _rendezvous.Size;

    /// <summary>The <paramref name="size"/> ranks of one new group, by rank.</summary>
    public static IReadOnlyList<InProcessSequenceParallelGroup> Create(int size)
    {
        var rendezvous = new Rendezvous(size);
        return Enumerable.Range(0, size).Select(r => new InProcessSequenceParallelGroup(rendezvous, r)).ToArray();
    }

    public TResult Exchange<TResult>(Tensor mine, Func<IReadOnlyList<Tensor>, TResult> combine) => _rendezvous.Exchange(Rank, mine, combine);

    /// <summary>Abandons the group: ranks waiting in an exchange (or arriving later) fail instead of hanging.</summary>
    public void Abort() => _rendezvous.Abort();
}
