using Granary.TestKit;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// A real `granary serve` of its own (nothing else sends it requests, so its counters are exactly what the
/// test class made) on a small synthesized model.
/// </summary>
public sealed class ServedModelFixture : IAsyncLifetime
{
    public const string ModelName = "metrics-tiny";

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions);

    public GranaryServer Server { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await GranaryServer.StartAsync(_model.Path, ModelName);
        Http = new HttpClient { BaseAddress = Server.HttpAddress, Timeout = TimeSpan.FromMinutes(1) };
    }

    public Task DisposeAsync()
    {
        Http?.Dispose();
        Server?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }
}
