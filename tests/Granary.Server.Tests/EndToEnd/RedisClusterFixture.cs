using Granary.TestKit;

namespace Granary.Server.Tests.EndToEnd;

/// <summary>
/// Two real `granary serve` processes clustered through a real redis-server, serving one synthesized tiny
/// model under the name <see cref="Model"/>. Started once for the tests that share it.
/// </summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    public const string Model = "tiny";

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions);
    RedisClusteredSilos? _cluster;

    public IReadOnlyList<GranaryServer> Silos => _cluster!.Silos;

    public string ModelDirectory => _model.Path;

    public async Task InitializeAsync() => _cluster = await RedisClusteredSilos.StartAsync(_model.Path, Model, count: 2);

    public Task DisposeAsync()
    {
        _cluster?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }
}
