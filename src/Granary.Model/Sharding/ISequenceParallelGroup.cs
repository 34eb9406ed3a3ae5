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
