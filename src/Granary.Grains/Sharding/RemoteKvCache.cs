using Granary.Model.KvCache;

namespace Granary.Grains.Sharding;

/// <summary>
/// The router's record of one sequence's KV on the shards: an id, its capacity and how many positions the
/// shards hold. Truncating only moves the length; every shard rolls its cache back to it on the next step.
/// </summary>
public sealed class RemoteKvCache(long sequenceId, int capacity, Action<long> release) : IKvCache
{
    bool _released;

    public long SequenceId { get; } = sequenceId;

    public int Capacity { get; } = capacity;

    public int Length { get; private set; }

    public bool CanAppend(int numTokens) => Length + numTokens <= Capacity;

    internal void Advance(int numTokens) => Length += numTokens;

    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        Length = length;
    }

    public void Dispose()
    {
        if (_released) return;
        _released = true;
        release(SequenceId);
    }
}
