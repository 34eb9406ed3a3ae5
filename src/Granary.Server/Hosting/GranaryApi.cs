using Granary.Grains;
using Granary.Grains.Deployments;
using Granary.Server.Api.Auth;
using Granary.Server.Api.Grpc;
using Granary.Server.Api.Limits;
using Granary.Server.Api.OpenAi;
using Granary.Server.Serving;
using Granary.Server.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Granary.Server.Hosting;

/// <summary>
/// The API half of a Granary process (HTTP, gRPC, health), independent of whether the process is a silo
/// (<c>granary serve</c>) or an Orleans client in front of one (tests, a future API-only tier).
/// </summary>
public static class GranaryApi
{
    public static IServiceCollection AddGranaryApi(this IServiceCollection services, IReadOnlyList<DeploymentOptions> deployments)
    {
        services.AddGranaryWireTypes();
        foreach (var frontend in deployments.Select(ModelFrontend.Load)) services.AddSingleton(frontend);
        services.AddSingleton<ServingMetrics>();
        services.AddSingleton(provider => new ModelGateway(provider.GetRequiredService<IGrainFactory>(),
            provider.GetServices<ModelFrontend>(), provider.GetRequiredService<ServingMetrics>())
        {
            Resume = provider.GetService<GranaryServerOptions>()?.ToResumeOptions() ?? new ResumeOptions(),
        });
        services.AddSingleton<Readiness>();
        services.AddHostedService<DeploymentWarmup>();
        services.AddSingleton<DeploymentLoadGauges>();
        services.AddHostedService(provider => provider.GetRequiredService<DeploymentLoadGauges>());
        services.AddApiKeyRegistry(); // shared by the HTTP and gRPC APIs
        services.AddSingleton<RequestLimitsOptions>(AdmissionEndpointFilter.OptionsFrom);
        services.AddSingleton<RequestLimits>();
        services.AddSingleton<DrainState>();
        services.AddSingleton<TenantAdmission>();
        services.AddGrpc();
        services.AddOptions<global::Grpc.AspNetCore.Server.GrpcServiceOptions>().Configure<RequestLimitsOptions>((grpc, limits) =>
            grpc.MaxReceiveMessageSize = (int)limits.MaxRequestBodyBytes);
        return services;
    }

    public static WebApplication MapGranaryApi(this WebApplication app)
    {
        long maxMessageBytes = app.Services.GetRequiredService<RequestLimitsOptions>().MaxRequestBodyBytes;
        app.Use((http, next) => GrpcRequestGuard.InvokeAsync(http, next, maxMessageBytes));
        app.MapGet("/health/live", () => Results.Ok(new { status = "live" }));
        app.MapGet("/health/ready", (Readiness readiness) => readiness.IsReady
            ? Results.Ok(new { status = readiness.Status })
            : Results.Json(new { status = readiness.Status }, statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapOpenAiApi();
        app.MapGrpcService<GranaryGrpcService>();
        return app;
    }
}
