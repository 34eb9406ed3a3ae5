using System.Reflection;
using Granary.Grains.Sharding;
using Xunit;

namespace Granary.Grains.Tests.Sharding;

/// <summary>
/// The lease timer runs on a thread-pool timer, where an exception would end the process. A grain client that
/// is already shut down (a silo or host stopping while a deployment still lives) throws from the call itself,
/// before any task exists: CI once lost a whole test host to exactly that.
/// </summary>
public sealed class ShardLeasesTests
{
    [Fact]
    public async Task Renewals_through_a_shut_down_client_neither_crash_nor_report_a_lost_shard()
    {
        var shard = ShutDownClientShard.Create();
        var leases = new ShardLeases([shard], TimeSpan.FromMilliseconds(30));
        var proxy = (ShutDownClientShard)(object)shard;
        // The timer fires every 10 ms: wait until it has tried several renewals.
        for (int waited = 0; proxy.NumRenewals < 3 && waited < 5000; waited += 10) await Task.Delay(10);
        Assert.True(proxy.NumRenewals >= 3, $"the lease timer tried {proxy.NumRenewals} renewal(s)");
        Assert.False(leases.Lost.IsCompleted);
        leases.Dispose(); // its unload call throws the same way, and must not escape either
        Assert.Equal(1, proxy.NumUnloads);
        Assert.True(leases.Lost.IsCanceled);
    }

    /// <summary>An <see cref="IShardGrain"/> whose every call throws as Orleans' client does once disposed.</summary>
    public class ShutDownClientShard : DispatchProxy
    {
        int _numRenewals, _numUnloads;

        public int NumRenewals => Volatile.Read(ref _numRenewals);

        public int NumUnloads => Volatile.Read(ref _numUnloads);

        public static IShardGrain Create() => Create<IShardGrain, ShutDownClientShard>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name == nameof(IShardGrain.RenewLease)) Interlocked.Increment(ref _numRenewals);
            if (targetMethod?.Name == nameof(IShardGrain.Unload)) Interlocked.Increment(ref _numUnloads);
            throw new ObjectDisposedException("OutsideRuntimeClient");
        }
    }
}
