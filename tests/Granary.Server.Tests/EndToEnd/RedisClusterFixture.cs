using Granary.Server.Tests.Support;
using Granary.TestKit;

namespace Granary.Server.Tests.EndToEnd;

/// <summary>
/// Two real `granary serve` processes clustered through a real redis-server, serving one synthesized tiny
/// model under the name <see cref="Model"/>. Started once for the tests that share it.
/// </summary>
public sealed class RedisClusterFixture : IDisposable
{
    public const string Model = "tiny";

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions);
    readonly RedisServer _redis = new();
    readonly List<ServeProcess> _silos = [];

    public RedisClusterFixture()
    {
        try
        {
            string[] args = ["--model", _model.Path, "--served-model-name", Model, "--redis", _redis.Address, "--cluster-id", $"e2e-{Guid.NewGuid():N}"];
            // The first silo must be up before the second joins, or both race to create the membership table.
            _silos.Add(new ServeProcess(GranaryProcess.DllPath, args));
            _silos.Add(new ServeProcess(GranaryProcess.DllPath, args));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IReadOnlyList<ServeProcess> Silos => _silos;

    public string ModelDirectory => _model.Path;

    public void Dispose()
    {
        foreach (var silo in _silos) silo.Dispose();
        _redis.Dispose();
        _model.Dispose();
    }
}
