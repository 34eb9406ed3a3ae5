namespace Granary.Model.KvCache;

/// <summary>
/// One sequence's keys and values as the engine sees them: a capacity reserved at admission and the number
/// of positions stored. Where the tensors live is the model's business: one pool on one device
/// (<see cref="SequenceKvCache"/>), or a slice on every shard of a plan.
/// </summary>
public interface IKvCache : IDisposable
{
    int Capacity { get; }

    /// <summary>Positions [0, Length) hold keys and values.</summary>
    int Length { get; }

    bool CanAppend(int numTokens);

    /// <summary>Forgets positions [length, Length) (rejected speculative tokens).</summary>
    void Truncate(int length);
}
