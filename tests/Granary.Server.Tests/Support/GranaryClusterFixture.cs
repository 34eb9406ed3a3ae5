using System.Net;
using Granary.Abstractions.Serving;
using Granary.Grains;
using Granary.Grains.Deployments;
using Granary.Grains.Routing;
using Granary.Server.Hosting;
using Granary.TestKit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace Granary.Server.Tests.Support;

/// <summary>
/// A two-silo Orleans test cluster serving a tiny synthesized model, and two HTTP API processes in front of
/// it (Kestrel on loopback ports) that are Orleans clients of the cluster, as an API-only tier would be:
/// one open, one that requires an API key. Shared by the <see cref="GranaryClusterCollection"/>.
/// </summary>
public sealed class GranaryClusterFixture : IAsyncLifetime
{
    /// <summary>The deployment the tests use.</summary>
    public const string ModelName = "tiny";

    /// <summary>The same model with no room in the waiting queue: every request gets 429.</summary>
    public const string FullModelName = "tiny-full";

    /// <summary>Known to the API processes but not to the silos: its router never activates (503).</summary>
    public const string GhostModelName = "ghost";

    public const string ApiKey = "sk-granary-test-key";
    public const string Tenant = "tenant-a";

    /// <summary>Long enough for a streaming request that is still running when the client aborts it.</summary>
    public const int ContextLength = 1024;

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions with { MaxPositionEmbeddings = ContextLength });
    TestCluster? _cluster;
    WebApplication? _openApi;
    WebApplication? _keyedApi;

    public string ModelDir => _model.Path;

    public TestCluster Cluster => _cluster ?? throw new InvalidOperationException("the fixture is not initialized");

    /// <summary>The API without keys.</summary>
    public HttpClient Http { get; private set; } = null!;

    /// <summary>The API that requires <see cref="ApiKey"/> (no Authorization header set).</summary>
    public HttpClient KeyedHttp { get; private set; } = null!;

    public Task<DeploymentStatus> GetStatus(string model = ModelName) => Cluster.Client.GetGrain<IRouterGrain>(model).GetStatus();

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(2);
        // Real sockets (the default is an in-memory transport): the API processes connect as external clients.
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        builder.Properties[SiloConfigurator.ModelDirectoryKey] = _model.Path;
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();

        var served = ServedDeployments(_model.Path);
        DeploymentOptions ghost = new() { Name = GhostModelName, ModelDirectory = _model.Path };
        (_openApi, Http) = await StartApiAsync([.. served, ghost], keys: []);
        (_keyedApi, KeyedHttp) = await StartApiAsync(served, keys: [new ApiKeyOptions { Key = ApiKey, Tenant = Tenant }]);
        // Load the model before the first test, so that no test's timing includes it.
        await GetStatus(ModelName);
    }

    /// <summary>What the silos serve.</summary>
    static DeploymentOptions[] ServedDeployments(string modelDirectory) =>
    [
        new() { Name = ModelName, ModelDirectory = modelDirectory },
        new() { Name = FullModelName, ModelDirectory = modelDirectory, Scheduler = new() { MaxNumWaiting = 0 } },
    ];

    /// <summary>Runs in each silo (TestCluster builds silos from configurator types and configuration).</summary>
    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public const string ModelDirectoryKey = "GranaryTestModelDirectory";

        public void Configure(ISiloBuilder silo)
        {
            string modelDirectory = silo.Configuration[ModelDirectoryKey] ?? throw new InvalidOperationException($"{ModelDirectoryKey} is not set");
            silo.UseGranaryGrainDirectory();
            silo.Services.AddGranaryWireTypes();
            silo.Services.AddGranaryDeployments(ServedDeployments(modelDirectory));
        }
    }

    public sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder client) => client.Services.AddGranaryWireTypes();
    }

    async Task<(WebApplication, HttpClient)> StartApiAsync(IReadOnlyList<DeploymentOptions> deployments, List<ApiKeyOptions> keys)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddSingleton(new GranaryServerOptions { ApiKeys = keys });
        builder.Services.AddGranaryApi(deployments);
        var gateways = Cluster.Silos.Select(silo => silo.GatewayAddress.Endpoint).ToArray();
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(gateways);
            client.Configure<ClusterOptions>(options =>
            {
                options.ClusterId = Cluster.Options.ClusterId;
                options.ServiceId = Cluster.Options.ServiceId;
            });
        });
        var app = builder.Build();
        app.MapGranaryApi();
        await app.StartAsync();
        var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()), Timeout = TimeSpan.FromMinutes(2) };
        return (app, http);
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        KeyedHttp?.Dispose();
        foreach (var app in new[] { _openApi, _keyedApi })
            if (app is not null)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        if (_cluster is not null) await _cluster.DisposeAsync();
        _model.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class GranaryClusterCollection : ICollectionFixture<GranaryClusterFixture>
{
    public const string Name = "granary-cluster";
}
