using Granary.Abstractions.Serving;
using Granary.Server.Api.Auth;
using Granary.Server.Serving;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Api.OpenAi;

/// <summary>POST /v1/completions: continue a raw prompt.</summary>
public static class CompletionsEndpoint
{
    /// <summary>The OpenAI API's default for this endpoint.</summary>
    public const int DefaultMaxTokens = 16;

    public static Task<IResult> HandleAsync(HttpContext http, ModelGateway gateway) => OpenAiHandler.GuardAsync(http, async () =>
    {
        var body = await RequestBodyReader.ReadAsync<CompletionsRequestBody>(http.Request, http.RequestAborted);
        return await GenerationResponder.RespondAsync(http, gateway, Plan(body, gateway, ApiKeyEndpointFilter.TenantOf(http), AgentTurn.Read(http.Request, body.User)));
    });

    public static GenerationPlan Plan(CompletionsRequestBody body, ModelGateway gateway, string? tenant, AgentTurn? turn = null)
    {
        var model = OpenAiHandler.FindModel(gateway, body.Model);
        var sampling = SamplingFields.Read(body, (body.MaxTokens, "max_tokens"), DefaultMaxTokens);
        int? topLogprobs = body.Logprobs is { } count ? SamplingFields.CheckTopLogprobs(count, "logprobs") : null;
        int[] prompt = CompletionPrompt.Encode(body.Prompt, model);
        var request = new CompletionRequest
        {
            Model = model.Name,
            PromptTokenIds = prompt,
            Sampling = sampling,
            TopLogprobs = topLogprobs,
            Tenant = tenant,
            Program = turn?.Program,
            AwaitingTool = turn?.AwaitingTool,
        };
        var shape = new CompletionShape(ResponseIdentity.New("cmpl", model.Name, body.ReturnTokensAsTokenIds ?? false));
        return new GenerationPlan(request, shape, body.Stream ?? false, body.StreamOptions?.IncludeUsage ?? false);
    }
}
