namespace Granary.Grains.Sharding;

/// <summary>
/// The router's side of its shards' leases: renews every shard's lease three times per lease period for as
/// long as the deployment lives, and unloads the shards when it ends. A shard whose lease lapses (its router's
/// silo died, so nobody renews it) frees its weights, KV caches and device slot by itself.
/// </summary>
public sealed class ShardLeases : IDisposable
{
    readonly IReadOnlyList<IShardGrain> _shards;
    readonly TimeSpan _lease;
    readonly Timer _timer;
    readonly TaskCompletionSource<string> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    int _disposed;

    public ShardLeases(IReadOnlyList<IShardGrain> shards, TimeSpan lease)
    {
        if (lease <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(lease), lease, "a shard lease must be positive");
        (_shards, _lease) = (shards, lease);
        _timer = new Timer(_ => Renew(), null, lease / 3, lease / 3);
    }

    public TimeSpan Lease => _lease;

    /// <summary>
    /// Completes (with the reason) when a renewal finds a shard that no longer holds its weights: its lease
    /// lapsed anyway (renewals starved for a whole lease) or it was unloaded, so the deployment must be placed
    /// again. Cancelled when the leases end first.
    /// </summary>
    public Task<string> Lost => _lost.Task;

    // A timer callback: nothing may escape it (an exception here ends the process). A call can throw before it
    // returns a task, e.g. when the grain client is already shut down (a silo or host stopping); each shard is
    // tried on its own, and one that cannot be reached fails the next step, which reports it.
    void Renew()
    {
        foreach (var shard in _shards)
        {
            if (Volatile.Read(ref _disposed) == 1) return;
            Task renewal;
            try
            {
                renewal = shard.RenewLease(_lease);
            }
            catch (Exception)
            {
                continue;
            }
            // One that lost its weights is reported here.
            renewal.ContinueWith(r =>
            {
                if (r.Exception?.InnerException is ShardUnavailableException lost) _lost.TrySetResult(lost.Message);
            }, TaskContinuationOptions.OnlyOnFaulted);
        }
    }

    /// <summary>Stops renewing and unloads the shards (each frees its slot).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _timer.Dispose();
        _lost.TrySetCanceled();
        foreach (var shard in _shards) _ = QuietCalls.RunAsync(shard.Unload);
    }
}
