using Granary.TestKit;

namespace Granary.Server.Tests.EndToEnd;

/// <summary>
/// Real `granary serve` processes clustered through a real redis-server of their own, serving one model folder.
/// Started one at a time (so they do not race to create the membership table); none is waited on until all are
/// up, because a plan's deployment is ready only once the silos it needs have joined.
/// </summary>
public sealed class RedisClusteredSilos : IDisposable
{
    readonly RedisServer _redis;
    readonly List<GranaryServer> _silos = [];

    RedisClusteredSilos(RedisServer redis) => _redis = redis;

    public IReadOnlyList<GranaryServer> Silos => _silos;

    /// <param name="extraArgs">`serve` flags every silo gets besides the clustering ones (a plan, device slots).</param>
    public static async Task<RedisClusteredSilos> StartAsync(string modelDir, string model, int count, params string[] extraArgs)
    {
        var cluster = new RedisClusteredSilos(new RedisServer());
        try
        {
            string[] args = ["--redis", cluster._redis.Address, "--cluster-id", $"e2e-{Guid.NewGuid():N}", .. extraArgs];
            for (int i = 0; i < count; i++) cluster._silos.Add(await GranaryServer.StartAsync(modelDir, model, extraArgs: args, waitUntilReady: false));
            foreach (var silo in cluster._silos) await silo.WaitUntilReadyAsync();
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var silo in _silos) silo.Dispose();
        _redis.Dispose();
    }
}
