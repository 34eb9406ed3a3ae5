using Granary.Abstractions;
using Granary.Engine.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Granary.Server.Telemetry;

/// <summary>
/// OpenTelemetry for a Granary process: metrics (Granary's, ASP.NET Core's, the .NET runtime's) scraped as
/// Prometheus text at <c>/metrics</c> on the HTTP port, and, when the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>
/// is set, metrics and traces pushed over OTLP too (the other <c>OTEL_*</c> variables apply as usual).
/// </summary>
public static class GranaryTelemetry
{
    public const string ScrapePath = "/metrics";

    const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static IServiceCollection AddGranaryTelemetry(this IServiceCollection services)
    {
        string? otlpEndpoint = CheckedOtlpEndpoint(Environment.GetEnvironmentVariable(OtlpEndpointVariable));
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(
                Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME") ?? "granary",
                serviceInstanceId: Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName))
            .WithMetrics(metrics => metrics
                .AddMeter(ServingMetrics.MeterName, StepMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                // Every scrape sees the counts as they are now (the default caches a response for 300 ms).
                .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        if (otlpEndpoint is not null)
        {
            // Spans cost something only where they are exported, so the tracer exists only with OTLP.
            telemetry.WithTracing(tracing => tracing
                .AddSource(GranaryTracing.SourceName, Granary.Engine.Serving.StepTracing.SourceName)
                .AddSource(GranaryTracing.OrleansSourceNames)
                .AddAspNetCoreInstrumentation(aspNet => aspNet.Filter = context => !IsProbeOrScrape(context.Request.Path)));
            telemetry.UseOtlpExporter();
        }
        return services;
    }

    public static WebApplication MapGranaryTelemetry(this WebApplication app)
    {
        app.UseWhen(context => context.Request.Path == ScrapePath, scrape => scrape.UseMiddleware<PrometheusNameRestorer>());
        app.MapPrometheusScrapingEndpoint(ScrapePath);
        return app;
    }

    /// <summary>A malformed endpoint is one clear line at start-up, not an exporter that silently drops everything.</summary>
    internal static string? CheckedOtlpEndpoint(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new GranaryUserError($"{OtlpEndpointVariable}: \"{value}\" is not an http(s) URL like http://otel-collector:4317");
        return value;
    }

    static bool IsProbeOrScrape(Microsoft.AspNetCore.Http.PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments(ScrapePath);
}
