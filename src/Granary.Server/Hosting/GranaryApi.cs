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
using Microsoft.AspNetCore.Http.Features;
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
        services.AddSingleton<ModelGateway>();
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
        // gRPC checks each message against its own limit (MaxReceiveMessageSize, set from the same setting) and
        // answers ResourceExhausted; Kestrel's body limit would cut the stream under it with an opaque error.
        app.Use((http, next) =>
        {
            if (http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true
                && http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
                bodySize.MaxRequestBodySize = null;
            return next(http);
        });
        app.MapGet("/health/live", () => Results.Ok(new { status = "live" }));
        app.MapGet("/health/ready", (Readiness readiness) => readiness.IsReady
            ? Results.Ok(new { status = readiness.Status })
            : Results.Json(new { status = readiness.Status }, statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapOpenAiApi();
        app.MapGrpcService<GranaryGrpcService>();
        return app;
    }
}
