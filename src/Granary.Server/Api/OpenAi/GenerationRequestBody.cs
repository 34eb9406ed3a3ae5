using System.Text.Json;

namespace Granary.Server.Api.OpenAi;

/// <summary>
/// Fields that /v1/completions and /v1/chat/completions share. Union-typed fields (<c>stop</c>: a string or
/// an array) stay <see cref="JsonElement"/> and are checked by <see cref="SamplingFields"/>.
/// </summary>
public abstract record GenerationRequestBody
{
    public string? Model { get; init; }

    public JsonElement? Stop { get; init; }

    public int? MaxTokens { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public long? Seed { get; init; }

    /// <summary>Choices per prompt; only 1 is served.</summary>
    public int? N { get; init; }

    public bool? Stream { get; init; }

    public StreamOptionsBody? StreamOptions { get; init; }

    /// <summary>vLLM extension: keep the K most likely tokens (0 or -1 disables).</summary>
    public int? TopK { get; init; }

    /// <summary>vLLM extension: HF-style repetition penalty (1 disables).</summary>
    public double? RepetitionPenalty { get; init; }

    /// <summary>vLLM extension: keep generating past end-of-sequence tokens.</summary>
    public bool? IgnoreEos { get; init; }

    /// <summary>vLLM extension: logprob tokens rendered as "token_id:N" instead of their text.</summary>
    public bool? ReturnTokensAsTokenIds { get; init; }

    /// <summary>The end user; Granary takes it as the agent program's name when no X-Granary-Program header is sent.</summary>
    public string? User { get; init; }
}

public sealed record StreamOptionsBody
{
    /// <summary>Send one last chunk with the request's usage and no choices.</summary>
    public bool? IncludeUsage { get; init; }
}

/// <summary>POST /v1/completions.</summary>
public sealed record CompletionsRequestBody : GenerationRequestBody
{
    /// <summary>A string, an array holding one string, or an array of token ids.</summary>
    public JsonElement? Prompt { get; init; }

    /// <summary>Log-probabilities of each sampled token and of the N most likely alternatives (0..20).</summary>
    public int? Logprobs { get; init; }
}

/// <summary>POST /v1/chat/completions.</summary>
public sealed record ChatCompletionsRequestBody : GenerationRequestBody
{
    public List<ChatMessageBody?>? Messages { get; init; }

    /// <summary>The newer name of max_tokens; wins when both are given.</summary>
    public int? MaxCompletionTokens { get; init; }

    public bool? Logprobs { get; init; }

    /// <summary>Alternatives per position (0..20); needs <c>logprobs: true</c>.</summary>
    public int? TopLogprobs { get; init; }
}

/// <summary>One chat message. <see cref="Content"/> is a string, null, or an array of <c>{type: "text", text}</c> parts.</summary>
public sealed record ChatMessageBody
{
    public string? Role { get; init; }

    public JsonElement? Content { get; init; }
}
