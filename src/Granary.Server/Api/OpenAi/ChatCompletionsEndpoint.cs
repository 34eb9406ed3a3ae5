using Granary.Abstractions.Serving;
using Granary.Server.Api.Auth;
using Granary.Server.Api.Limits;
using Granary.Server.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Granary.Server.Api.OpenAi;

/// <summary>POST /v1/chat/completions: the assistant's next turn, the chat rendered with the model's template.</summary>
public static class ChatCompletionsEndpoint
{
    public static Task<IResult> HandleAsync(HttpContext http, ModelGateway gateway) => OpenAiHandler.GuardAsync(http, async () =>
    {
        var body = await RequestBodyReader.ReadAsync<ChatCompletionsRequestBody>(http.Request, AdmissionEndpointFilter.DeadlineOf(http).Token);
        var limits = http.RequestServices.GetService<RequestLimits>();
        return await GenerationResponder.RespondAsync(http, gateway, Plan(body, gateway, ApiKeyEndpointFilter.TenantOf(http), limits, AgentTurn.Read(http.Request, body.User)));
    });

    public static GenerationPlan Plan(ChatCompletionsRequestBody body, ModelGateway gateway, string? tenant, RequestLimits? limits = null, AgentTurn? turn = null)
    {
        limits ??= RequestLimits.Default;
        var model = OpenAiHandler.FindModel(gateway, body.Model);
        var maxTokens = body.MaxCompletionTokens is not null
            ? (body.MaxCompletionTokens, "max_completion_tokens")
            : (body.MaxTokens, "max_tokens");
        int? topLogprobs = TopLogprobs(body);
        int[] prompt = ChatPrompt.Encode(body.Messages, model);
        LimitChecks.Prompt(limits, prompt, "messages");
        var sampling = SamplingFields.Read(body, maxTokens, limits.DefaultMaxTokens(DefaultMaxTokens(model, prompt.Length)));
        LimitChecks.MaxTokens(limits, maxTokens);
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
        var shape = new ChatCompletionShape(ResponseIdentity.New("chatcmpl", model.Name, body.ReturnTokensAsTokenIds ?? false));
        return new GenerationPlan(request, shape, body.Stream ?? false, body.StreamOptions?.IncludeUsage ?? false);
    }

    /// <summary>
    /// Without a limit the reply may fill the rest of the context, as in vLLM; but a sequence reserves its
    /// KV up front, so no more than the deployment's KV budget (else the router would refuse every such request).
    /// </summary>
    static int DefaultMaxTokens(ModelFrontend model, int numPromptTokens)
    {
        long room = Math.Min(model.ContextLength, model.Deployment.Scheduler.KvCacheTokenBudget) - numPromptTokens;
        return (int)Math.Max(1, room);
    }

    /// <summary><c>logprobs: true</c> turns them on; <c>top_logprobs</c> adds alternatives and needs it.</summary>
    static int? TopLogprobs(ChatCompletionsRequestBody body)
    {
        if (body.TopLogprobs is { } top)
        {
            if (body.Logprobs != true) throw OpenAiRequestException.Invalid("top_logprobs requires logprobs to be true", "top_logprobs");
            return SamplingFields.CheckTopLogprobs(top, "top_logprobs");
        }
        return body.Logprobs == true ? 0 : null;
    }
}
