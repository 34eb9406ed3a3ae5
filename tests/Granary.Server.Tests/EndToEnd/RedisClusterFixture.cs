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
    readonly List<GranaryServer> _silos = [];
    RedisServer? _redis;

    public IReadOnlyList<GranaryServer> Silos => _silos;

    public string ModelDirectory => _model.Path;

    public async Task InitializeAsync()
    {
        _redis = new RedisServer();
        string[] clustering = ["--redis", _redis.Address, "--cluster-id", $"e2e-{Guid.NewGuid():N}"];
        // The first silo is up before the second joins, so they do not race to create the membership table.
        _silos.Add(await GranaryServer.StartAsync(_model.Path, Model, extraArgs: clustering));
        _silos.Add(await GranaryServer.StartAsync(_model.Path, Model, extraArgs: clustering));
    }

    public Task DisposeAsync()
    {
        foreach (var silo in _silos) silo.Dispose();
        _redis?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }
}
