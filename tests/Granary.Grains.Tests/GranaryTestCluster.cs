using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Granary.Grains.Tests;

/// <summary>
/// In-process Orleans clusters as the grain tests use them: silos and client with Granary's wire types, each
/// silo configured by its index in start order (0 is the primary, which tests never stop).
/// </summary>
static class GranaryTestCluster
{
    public static async Task<InProcessTestCluster> StartAsync(short numSilos, Action<int, IServiceCollection> configureSilo)
    {
        int numConfigured = 0;
        var builder = new InProcessTestClusterBuilder(initialSilosCount: numSilos);
        builder.ConfigureSilo((_, silo) => configureSilo(Interlocked.Increment(ref numConfigured) - 1, silo.UseGranaryGrainDirectory().Services.AddGranaryWireTypes()));
        builder.ConfigureClient(client => client.Services.AddGranaryWireTypes());
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    public static async Task StopAsync(InProcessTestCluster? cluster)
    {
        if (cluster is null) return;
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }
}
