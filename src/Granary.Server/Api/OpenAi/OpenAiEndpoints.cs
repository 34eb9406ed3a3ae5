using Granary.Server.Api.Auth;
using Granary.Server.Api.Limits;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Granary.Server.Api.OpenAi;

/// <summary>The OpenAI-compatible HTTP API under /v1, behind the API-key check (its registry comes from <see cref="ApiKeysSetup.AddApiKeyRegistry"/>).</summary>
public static class OpenAiEndpoints
{
    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").AddEndpointFilter<ApiKeyEndpointFilter>();
        v1.MapGet("/models", ModelsEndpoint.List);
        v1.MapGet("/models/{id}", ModelsEndpoint.Get);
        // Only generation is limited per key and drained: listing models stays cheap and always answers.
        v1.MapPost("/completions", CompletionsEndpoint.HandleAsync).AddEndpointFilter<AdmissionEndpointFilter>();
        v1.MapPost("/chat/completions", ChatCompletionsEndpoint.HandleAsync).AddEndpointFilter<AdmissionEndpointFilter>();
        v1.MapGet("/cluster", Cluster.ClusterEndpoint.Get);
        return app;
    }
}
