using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Grpc.V1;
using Granary.Server.Api.Limits;
using Granary.Server.Serving;
using Google.Protobuf.Collections;
using Grpc.Core;
using TemplateMessage = Granary.Model.Tokenization.ChatMessage;
using SamplingParams = Granary.Abstractions.SamplingParams;
using WireSampling = Granary.Grpc.V1.SamplingParams;

namespace Granary.Server.Api.Grpc;

/// <summary>
/// Turns gRPC requests into the gateway's <see cref="CompletionRequest"/>: tokenizes the prompt, fills in
/// defaults, and checks every field; a bad one throws <see cref="StatusCode.InvalidArgument"/> naming it.
/// </summary>
internal static class GrpcRequests
{
    public const int MaxTopLogprobs = 20;
    public const int MaxStopStrings = 16;
    static readonly string[] Roles = ["system", "user", "assistant"];

    public static CompletionRequest ToCompletion(GenerateRequest request, ModelFrontend model, string? tenant, RequestLimits? limits = null)
    {
        int[] prompt = (request.Prompt.Length > 0, request.PromptTokenIds.Count > 0) switch
        {
            (true, true) => throw Invalid("set one of prompt and prompt_token_ids, not both"),
            (false, false) => throw Invalid("prompt (or prompt_token_ids) is required"),
            (true, false) => model.EncodePrompt(request.Prompt),
            (false, true) => CheckTokenIds(request.PromptTokenIds, model.Config.VocabSize),
        };
        return ToCompletion(model, prompt, request.Sampling, new SamplingParams().MaxTokens, tenant, limits ?? RequestLimits.Default) with
        {
            Program = AgentName(request.Program, "program"),
            AwaitingTool = AgentName(request.AwaitingTool, "awaiting_tool"),
        };
    }

    public static CompletionRequest ToCompletion(ChatRequest request, ModelFrontend model, string? tenant, RequestLimits? limits = null)
    {
        if (request.Messages.Count == 0) throw Invalid("messages must hold at least one message");
        var messages = new List<TemplateMessage>(request.Messages.Count);
        for (int i = 0; i < request.Messages.Count; i++)
        {
            var message = request.Messages[i];
            if (!Roles.Contains(message.Role))
                throw Invalid($"messages[{i}].role must be system, user or assistant (got \"{message.Role}\")");
            messages.Add(new TemplateMessage(message.Role, message.Content));
        }
        int[] prompt;
        try
        {
            prompt = model.EncodeChat(messages);
        }
        catch (ArgumentException e)
        {
            // Some templates (Llama 2) cannot render every order of roles.
            throw Invalid($"messages: {e.Message}");
        }
        // A chat answer runs until it ends by itself, as far as the context allows; a too-long prompt is the
        // deployment's to refuse, with the lengths in its message.
        int restOfContext = Math.Max(1, model.ContextLength - prompt.Length);
        return ToCompletion(model, prompt, request.Sampling, restOfContext, tenant, limits ?? RequestLimits.Default) with
        {
            Program = AgentName(request.Program, "program"),
            AwaitingTool = AgentName(request.AwaitingTool, "awaiting_tool"),
        };
    }

    static CompletionRequest ToCompletion(ModelFrontend model, int[] prompt, WireSampling? wire, int defaultMaxTokens, string? tenant, RequestLimits limits)
    {
        wire ??= new WireSampling();
        if (limits.CheckPrompt(prompt.Length) is { } longPrompt) throw Invalid(longPrompt.Message);
        if (wire.HasMaxTokens && limits.CheckMaxTokens(wire.MaxTokens) is { } tooMany) throw Invalid($"sampling.max_tokens: {tooMany.Message}");
        defaultMaxTokens = limits.DefaultMaxTokens(defaultMaxTokens);
        var defaults = new SamplingParams();
        var sampling = new SamplingParams
        {
            MaxTokens = wire.HasMaxTokens ? wire.MaxTokens : defaultMaxTokens,
            Temperature = wire.HasTemperature ? wire.Temperature : defaults.Temperature,
            TopP = wire.HasTopP ? wire.TopP : defaults.TopP,
            TopK = wire.HasTopK ? wire.TopK : defaults.TopK,
            RepetitionPenalty = wire.HasRepetitionPenalty ? wire.RepetitionPenalty : defaults.RepetitionPenalty,
            Seed = wire.HasSeed ? wire.Seed : null,
            Stop = CheckStops(wire.Stop),
            IgnoreEos = wire.IgnoreEos,
        };
        if (sampling.Validate() is { } problem) throw Invalid($"sampling.{problem}");
        if (wire.HasLogprobs && wire.Logprobs is < 0 or > MaxTopLogprobs)
            throw Invalid($"sampling.logprobs must be in [0, {MaxTopLogprobs}] (got {wire.Logprobs})");
        return new CompletionRequest
        {
            Model = model.Name,
            PromptTokenIds = prompt,
            Sampling = sampling,
            TopLogprobs = wire.HasLogprobs ? wire.Logprobs : null,
            Tenant = tenant,
        };
    }

    // proto3 strings are never null: empty means not given.
    static string? AgentName(string value, string field) =>
        value.Length == 0 ? null : AgentTurnNames.Problem(value, field) is { } problem ? throw Invalid(problem) : value;

    static int[] CheckTokenIds(RepeatedField<int> ids, int vocabSize)
    {
        for (int i = 0; i < ids.Count; i++)
            if (ids[i] < 0 || ids[i] >= vocabSize)
                throw Invalid($"prompt_token_ids[{i}] = {ids[i]} is outside the model's vocabulary (0..{vocabSize - 1})");
        return ids.ToArray();
    }

    static string[] CheckStops(RepeatedField<string> stops)
    {
        if (stops.Count > MaxStopStrings) throw Invalid($"sampling.stop holds {stops.Count} strings; at most {MaxStopStrings}");
        for (int i = 0; i < stops.Count; i++)
            if (stops[i].Length == 0) throw Invalid($"sampling.stop[{i}] is empty");
        return stops.ToArray();
    }

    static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
