using Granary.Server.Benchmarks;
using Granary.TestKit;
using Microsoft.Extensions.Logging;

namespace Granary.Server.Tests.Reliability;

/// <summary>
/// A whole `granary serve` (silo, Kestrel, HTTP and gRPC) inside the test process on a tiny synthesized model,
/// with the Granary:* settings a subclass names; its clients talk to it over real loopback sockets.
/// </summary>
public abstract class InProcessServerFixture : IAsyncLifetime
{
    public const string ModelName = "tiny";

    readonly SynthesizedModelFolder _model;
    InProcessGranary? _server;

    protected InProcessServerFixture(int contextLength)
    {
        _model = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions with { MaxPositionEmbeddings = contextLength });
    }

    /// <summary>Granary:* settings, as `granary serve` flags or GRANARY__* variables would set them.</summary>
    protected abstract IReadOnlyDictionary<string, string?> Settings { get; }

    /// <summary>Errors the server logged.</summary>
    public ErrorLog ErrorLog { get; } = new();

    public InProcessGranary Server => _server ?? throw new InvalidOperationException("the fixture is not initialized");

    public Uri HttpAddress => new(Server.HttpUrl);

    public Uri GrpcAddress => new(Server.GrpcUrl);

    public HttpClient NewHttpClient() => new() { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(120) };

    /// <summary>An HTTP/2 client for the gRPC port (no TLS, so HTTP/2 is spoken from the first byte).</summary>
    public HttpClient NewGrpcHttpClient() => new(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
    {
        BaseAddress = GrpcAddress,
        Timeout = TimeSpan.FromSeconds(120),
        DefaultRequestVersion = System.Net.HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>(Settings)
        {
            ["Model"] = _model.Path,
            ["ServedModelName"] = ModelName,
        };
        _server = await InProcessGranary.StartAsync(settings, logging: logging => logging.AddProvider(ErrorLog));
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _model.Dispose();
    }
}
