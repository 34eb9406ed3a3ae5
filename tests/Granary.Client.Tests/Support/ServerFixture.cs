using Granary.TestKit;

namespace Granary.Client.Tests.Support;

/// <summary>One tiny synthesized model and one `granary serve` on it, shared by the tests of a collection or class.</summary>
public class ServerFixture : IAsyncLifetime
{
    public const string ModelName = "tiny-llama";

    GranaryServer? _server;

    public SynthesizedModelFolder Model { get; } = new(SynthesizedModelFolder.SmallOptions);

    public GranaryServer Server => _server ?? throw new InvalidOperationException("the server is not started");

    /// <summary>GRANARY__* settings of the server process beyond the flags.</summary>
    protected virtual IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>();

    /// <summary>A client of this fixture's server (by default every call has a 60 s deadline); the caller disposes it.</summary>
    public GranaryClient NewClient(GranaryClientOptions? options = null) =>
        new(Server.GrpcAddress, options ?? new GranaryClientOptions { DefaultDeadline = TimeSpan.FromSeconds(60) });

    public async Task InitializeAsync() => _server = await GranaryServer.StartAsync(Model.Path, ModelName, Environment);

    public Task DisposeAsync()
    {
        _server?.Dispose();
        Model.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>A server that demands an API key: <see cref="Key"/>, of tenant "acme".</summary>
public sealed class ApiKeyServerFixture : ServerFixture
{
    public const string Key = "test-key-0123456789";

    protected override IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["GRANARY__APIKEYS__0__KEY"] = Key,
        ["GRANARY__APIKEYS__0__TENANT"] = "acme",
    };
}

/// <summary>The test classes that share one plain server (no API keys).</summary>
[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "granary serve";
}
