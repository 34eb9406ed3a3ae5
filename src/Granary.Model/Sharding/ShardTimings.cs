using System.Diagnostics;

namespace Granary.Model.Sharding;

/// <summary>
/// Busy seconds per shard of an in-process plan (indexed as <see cref="ShardedCausalLm.AllShards"/>): each
/// stage's forward counts for every rank of the stage, each vocabulary part's embedding and logits for the
/// shard holding it. The busiest shard bounds what a pipeline with one device per shard could reach.
/// Thread-safe.
/// </summary>
public sealed class ShardTimings(int numShards)
{
    readonly long[] _ticks = new long[numShards];

    public void Add(int shard, long elapsedTicks) => Interlocked.Add(ref _ticks[shard], elapsedTicks);

    /// <summary>Seconds each shard has been busy so far.</summary>
    public double[] Seconds() => _ticks.Select(t => (double)Volatile.Read(ref t) / Stopwatch.Frequency).ToArray();

    public void Reset()
    {
        for (int i = 0; i < _ticks.Length; i++) Interlocked.Exchange(ref _ticks[i], 0);
    }
}
