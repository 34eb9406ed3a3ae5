using Granary.Abstractions.Serving;
using Granary.Server.Api.Auth;
using Granary.Server.Api.Limits;
using Granary.Server.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Granary.Server.Api.OpenAi;

/// <summary>POST /v1/completions: continue a raw prompt.</summary>
public static class CompletionsEndpoint
{
    /// <summary>The OpenAI API's default for this endpoint.</summary>
    public const int DefaultMaxTokens = 16;

    public static Task<IResult> HandleAsync(HttpContext http, ModelGateway gateway) => OpenAiHandler.GuardAsync(http, async () =>
    {
        var body = await RequestBodyReader.ReadAsync<CompletionsRequestBody>(http.Request, AdmissionEndpointFilter.DeadlineOf(http).Token);
        var limits = http.RequestServices.GetService<RequestLimits>();
        return await GenerationResponder.RespondAsync(http, gateway, Plan(body, gateway, ApiKeyEndpointFilter.TenantOf(http), limits, AgentTurn.Read(http.Request, body.User)));
    });

    public static GenerationPlan Plan(CompletionsRequestBody body, ModelGateway gateway, string? tenant, RequestLimits? limits = null, AgentTurn? turn = null)
    {
        limits ??= RequestLimits.Default;
        var model = OpenAiHandler.FindModel(gateway, body.Model);
        var sampling = SamplingFields.Read(body, (body.MaxTokens, "max_tokens"), limits.DefaultMaxTokens(DefaultMaxTokens));
        LimitChecks.MaxTokens(limits, (body.MaxTokens, "max_tokens"));
        int? topLogprobs = body.Logprobs is { } count ? SamplingFields.CheckTopLogprobs(count, "logprobs") : null;
        int[] prompt = CompletionPrompt.Encode(body.Prompt, model);
        LimitChecks.Prompt(limits, prompt, "prompt");
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
