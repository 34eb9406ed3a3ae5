using Granary.Grains;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using System.Net;

namespace Granary.Server.Benchmarks;

/// <summary>
/// Several Orleans silos in this process, clustered over loopback (localhost clustering, the first silo as
/// primary), each offering one device slot: what `granary bench pp` places shards on.
/// </summary>
public sealed class LoopbackCluster : IAsyncDisposable
{
    readonly List<IHost> _silos;

    LoopbackCluster(List<IHost> silos) => _silos = silos;

    /// <summary>The first silo's grain factory (any silo reaches every grain).</summary>
    public IGrainFactory Grains => _silos[0].Services.GetRequiredService<IGrainFactory>();

    /// <summary>The first silo, where calls through <see cref="Grains"/> start (the benchmark's "router").</summary>
    public SiloAddress FirstSilo => _silos[0].Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;

    public static async Task<LoopbackCluster> StartAsync(int numSilos, CancellationToken cancellationToken)
    {
        string clusterId = $"granary-bench-{Guid.NewGuid():N}";
        var silos = new List<IHost>();
        try
        {
            int[] ports = FreeLoopbackPorts(2 * numSilos);
            for (int i = 0; i < numSilos; i++)
            {
                var primary = i == 0 ? null : new IPEndPoint(IPAddress.Loopback, ports[0]);
                int siloPort = ports[2 * i], gatewayPort = ports[2 * i + 1];
                var builder = Host.CreateApplicationBuilder();
                builder.Logging.ClearProviders();
                builder.Services.AddGranaryWireTypes().AddGranaryShards(deviceSlots: 1);
                builder.UseOrleans(silo => silo.UseLocalhostClustering(siloPort, gatewayPort, primary, clusterId, clusterId).UseGranaryGrainDirectory());
                var host = builder.Build();
                silos.Add(host);
                await host.StartAsync(cancellationToken);
            }
            return new LoopbackCluster(silos);
        }
        catch
        {
            await new LoopbackCluster(silos).DisposeAsync();
            throw;
        }
    }

    static int[] FreeLoopbackPorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0)).ToList();
        foreach (var listener in listeners) listener.Start();
        int[] ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners) listener.Stop();
        return ports;
    }

    public async ValueTask DisposeAsync()
    {
        for (int i = _silos.Count - 1; i >= 0; i--)
        {
            try
            {
                await _silos[i].StopAsync();
            }
            finally
            {
                _silos[i].Dispose();
            }
        }
    }
}
