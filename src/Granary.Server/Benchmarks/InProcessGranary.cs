using System.Net;
using System.Net.Sockets;
using Granary.Server.Hosting;
using Granary.Server.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Granary.Server.Benchmarks;

/// <summary>
/// A whole `granary serve` process (one silo, Kestrel) started inside this one on free loopback ports, with
/// logging off so it prints nothing. Started means ready: its deployment's model is loaded.
/// </summary>
public sealed class InProcessGranary : IAsyncDisposable
{
    readonly WebApplication _app;

    InProcessGranary(WebApplication app, ModelGateway gateway, ModelFrontend model, string httpUrl, string grpcUrl)
    {
        _app = app;
        Gateway = gateway;
        Model = model;
        HttpUrl = httpUrl;
        GrpcUrl = grpcUrl;
    }

    public ModelGateway Gateway { get; }

    /// <summary>The one deployment it serves.</summary>
    public ModelFrontend Model { get; }

    /// <summary>Where its HTTP API listens (for an HTTP bench client).</summary>
    public string HttpUrl { get; }

    /// <summary>Where its gRPC API listens (HTTP/2 without TLS).</summary>
    public string GrpcUrl { get; }

    /// <summary>The host's services (drain state, readiness, ...), for tests.</summary>
    public IServiceProvider Services => _app.Services;

    /// <param name="settings">Granary:* settings (as `granary serve` flags set them); ports and URLs are chosen here.</param>
    /// <param name="logging">Where its logs go (tests capture errors); none: nowhere.</param>
    public static async Task<InProcessGranary> StartAsync(IReadOnlyDictionary<string, string?> settings, CancellationToken cancellationToken = default,
        Action<ILoggingBuilder>? logging = null)
    {
        int[] ports = FreeLoopbackPorts(4);
        string httpUrl = $"http://127.0.0.1:{ports[0]}";
        string grpcUrl = $"http://127.0.0.1:{ports[1]}";
        var overrides = new Dictionary<string, string?>(settings)
        {
            [nameof(GranaryServerOptions.Urls)] = httpUrl,
            [nameof(GranaryServerOptions.GrpcUrls)] = grpcUrl,
            [nameof(GranaryServerOptions.SiloPort)] = ports[2].ToString(),
            [nameof(GranaryServerOptions.GatewayPort)] = ports[3].ToString(),
            [nameof(GranaryServerOptions.ClusterId)] = $"granary-bench-{Guid.NewGuid():N}",
        };
        var app = GranaryHost.Build(overrides, logging: builder =>
        {
            builder.ClearProviders();
            logging?.Invoke(builder);
        });
        try
        {
            await app.StartAsync(cancellationToken);
            var gateway = app.Services.GetRequiredService<ModelGateway>();
            var model = gateway.Models.Single();
            // Activates the router, which loads the model; a status call answers "loading" until it has.
            while ((await gateway.GetStatus(model.Name).WaitAsync(cancellationToken)).IsLoading) { }
            return new InProcessGranary(app, gateway, model, httpUrl, grpcUrl);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    // NOTE: a port is free when asked and taken moments later; on a busy host another process may win it.
    static int[] FreeLoopbackPorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            foreach (var listener in listeners) listener.Start();
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var listener in listeners) listener.Stop();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
