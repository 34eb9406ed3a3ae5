using System.Net;
using Granary.Abstractions;
using Granary.Grains;
using Granary.Grains.Deployments;
using Granary.Server.Models;
using Granary.Server.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Granary.Server.Hosting;

/// <summary>
/// Builds a `granary serve` process: an Orleans silo hosting the deployment's router grain, and Kestrel
/// serving the HTTP API (and gRPC on its own HTTP/2 port) in the same process. Clustering is localhost
/// without Redis (one command, nothing to install) and Orleans Redis clustering with it.
/// </summary>
public static class GranaryHost
{
    /// <summary>
    /// Reads and validates the options (appsettings.json, GRANARY__* environment, then <paramref name="overrides"/>
    /// from flags) and builds the app. Throws <see cref="GranaryUserError"/> naming the bad setting.
    /// </summary>
    public static WebApplication Build(IReadOnlyDictionary<string, string?> overrides, string[]? args = null, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args ?? [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(overrides.Select(o => KeyValuePair.Create($"{GranaryServerOptions.Section}:{o.Key}", o.Value)));
        var options = builder.Configuration.GetSection(GranaryServerOptions.Section).Get<GranaryServerOptions>() ?? new GranaryServerOptions();
        if (options.Validate() is { } problem) throw new GranaryUserError(problem);
        string modelDirectory = DefaultModels.ResolveTarget(options.Model);
        if (!File.Exists(Path.Combine(modelDirectory, "config.json")))
            throw new GranaryUserError($"--model: {modelDirectory} is not a model folder (no config.json)");
        string? draftDirectory = options.Draft is null ? null : DefaultModels.ResolveDraft(options.Draft);
        if (draftDirectory is not null && !File.Exists(Path.Combine(draftDirectory, "config.json")))
            throw new GranaryUserError($"--draft: {draftDirectory} is not a model folder (no config.json)");
        if (draftDirectory is not null && options.DraftVocab > 0 && !File.Exists(Path.Combine(draftDirectory, Granary.Engine.Speculation.VocabTrimCalibration.FileName)))
            throw new GranaryUserError($"--draft-vocab: {Path.Combine(draftDirectory, Granary.Engine.Speculation.VocabTrimCalibration.FileName)} is missing (granary model vocab-trim writes it)");
        var deployment = options.ToDeployment(modelDirectory, draftDirectory);
        CheckPlanFitsModel(deployment);
        if (options.Redis is { } redis) CheckRedisAnswers(redis);

        if (logging is not null) logging(builder.Logging);
        builder.Services.AddSingleton(options);
        builder.Services.AddGranaryApi([deployment]);
        builder.Services.AddGranaryTelemetry();
        builder.Services.AddGranaryDeployments([deployment]);
        builder.Services.AddGranaryShards(options.Devices, options.KvTier.Enabled ? options.KvTier.ToCxlMemory() : null);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // HTTP/2 on the API port needs TLS (ALPN); plain http stays HTTP/1.1, gRPC gets its own HTTP/2 port.
            foreach (string url in GranaryServerOptions.SplitUrls(options.Urls))
                Listen(kestrel, url, url.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1);
            foreach (string url in GranaryServerOptions.SplitUrls(options.GrpcUrls)) Listen(kestrel, url, HttpProtocols.Http2);
            kestrel.Limits.MaxRequestBodySize = options.Limits.MaxRequestBodyBytes;
        });
        builder.UseOrleans(silo => ConfigureSilo(silo, options));
        AddGracefulDrain(builder, options);
        var app = builder.Build();
        app.MapGranaryTelemetry();
        app.MapGranaryApi();
        return app;
    }

    /// <summary>
    /// After the silo, so that on SIGTERM the drain runs before the silo stops; the host's own shutdown
    /// timeout leaves room for the grace period and the silo's stop after it.
    /// </summary>
    static void AddGracefulDrain(WebApplicationBuilder builder, GranaryServerOptions options)
    {
        var grace = TimeSpan.FromSeconds(options.ShutdownGraceSeconds);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = grace + TimeSpan.FromSeconds(30));
        builder.Services.AddHostedService(provider => ActivatorUtilities.CreateInstance<Serving.GracefulDrain>(provider, grace));
    }

    static void ConfigureSilo(ISiloBuilder silo, GranaryServerOptions options)
    {
        silo.Configure<ClusterOptions>(cluster =>
        {
            cluster.ClusterId = options.ClusterId;
            cluster.ServiceId = options.ServiceId;
        });
        silo.AddActivityPropagation(); // a request's trace continues into the silo that hosts its router
        silo.UseGranaryGrainDirectory();
        if (options.Redis is { } redis)
        {
            silo.UseRedisClustering(redisOptions => redisOptions.ConfigurationOptions = ConfigurationOptions.Parse(redis));
            silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedIp), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
        }
        else
        {
            var primary = options.PrimarySiloPort is { } port ? new IPEndPoint(IPAddress.Loopback, port) : null;
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, primary, options.ServiceId, options.ClusterId);
        }
    }

    // A plan the model cannot take would otherwise only fail when the router loads, behind a 503.
    static void CheckPlanFitsModel(DeploymentOptions deployment)
    {
        try
        {
            Granary.Model.Sharding.ShardSpec.ForPlan(Granary.Model.Configuration.ModelConfigJson.Load(deployment.ModelDirectory), deployment.Plan);
        }
        catch (GranaryUserError e)
        {
            throw new GranaryUserError($"--plan: {e.Message}");
        }
    }

    /// <summary>
    /// Orleans would otherwise fail deep in silo start-up with pages of stack traces; a user who mistyped the
    /// address or forgot to start Redis gets one line naming the flag instead.
    /// </summary>
    static void CheckRedisAnswers(string redis)
    {
        var configuration = ConfigurationOptions.Parse(redis);
        configuration.ConnectTimeout = 5000;
        configuration.AbortOnConnectFail = true;
        try
        {
            using var connection = ConnectionMultiplexer.Connect(configuration);
            connection.GetDatabase().Ping();
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException)
        {
            throw new GranaryUserError($"--redis {redis}: no Redis answers there ({e.Message.Split('.')[0]}); start redis-server or fix the address");
        }
    }

    static void Listen(KestrelServerOptions kestrel, string url, HttpProtocols protocols)
    {
        var uri = new Uri(url);
        Action<ListenOptions> configure = listen =>
        {
            listen.Protocols = protocols;
            if (uri.Scheme == "https") listen.UseHttps();
        };
        switch (uri.Host)
        {
            case "localhost":
                kestrel.ListenLocalhost(uri.Port, configure);
                break;
            case "*" or "+" or "0.0.0.0" or "[::]":
                kestrel.ListenAnyIP(uri.Port, configure);
                break;
            default:
                if (!IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
                    throw new GranaryUserError($"--urls: \"{url}\": use an IP address, localhost or 0.0.0.0, not a host name");
                kestrel.Listen(address, uri.Port, configure);
                break;
        }
    }
}
