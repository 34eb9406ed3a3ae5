using Granary.Server.Api.Auth;
using Granary.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Granary.Server.Api.OpenAi;

/// <summary>The OpenAI-compatible HTTP API under /v1, behind the API-key check.</summary>
public static class OpenAiEndpoints
{
    /// <summary>
    /// Registers the key registry from <see cref="GranaryServerOptions.ApiKeys"/> when the host registered
    /// options (no options: no keys); a host may register its own <see cref="ApiKeyRegistry"/> first.
    /// </summary>
    public static IServiceCollection AddOpenAiApi(this IServiceCollection services)
    {
        services.TryAddSingleton(provider => provider.GetService<GranaryServerOptions>() is { } options
            ? new ApiKeyRegistry(options.ApiKeys)
            : ApiKeyRegistry.Open);
        return services;
    }

    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").AddEndpointFilter<ApiKeyEndpointFilter>();
        v1.MapGet("/models", ModelsEndpoint.List);
        v1.MapGet("/models/{id}", ModelsEndpoint.Get);
        v1.MapPost("/completions", CompletionsEndpoint.HandleAsync);
        v1.MapPost("/chat/completions", ChatCompletionsEndpoint.HandleAsync);
        return app;
    }
}
