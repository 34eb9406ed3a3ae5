using Granary.Model.KvCache;
using Granary.Model.Sharding;

namespace Granary.Grains.Sharding;

/// <summary>
/// The router's record of one sequence's KV on the shards: an id, its capacity and how many positions the
/// shards hold; under sequence parallelism also which positions each of a stage's shards holds
/// (<see cref="Positions"/>). Truncating only moves the length; every shard rolls its cache back to it on
/// the next step.
/// </summary>
public sealed class RemoteKvCache(long sequenceId, int capacity, Action<long> release, SequencePositions? positions = null, object? owner = null) : IKvCache
{
    bool _released;
    int _length;

    public long SequenceId { get; } = sequenceId;

    public SequencePositions? Positions { get; } = positions;

    /// <summary>The model that made it (its shards hold the KV).</summary>
    internal object? Owner { get; } = owner;

    public int Capacity { get; } = positions?.Capacity ?? capacity;

    public int Length => Positions?.Length ?? _length;

    public bool CanAppend(int numTokens) => Length + numTokens <= Capacity;

    internal void Advance(int numTokens)
    {
        if (Positions is null) _length += numTokens;
    }

    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        if (Positions is { } positions) positions.Truncate(length);
        else _length = length;
    }

    public void Dispose()
    {
        if (_released) return;
        _released = true;
        release(SequenceId);
    }
}
