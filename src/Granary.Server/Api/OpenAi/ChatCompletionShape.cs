using System.Text.Json.Serialization;
using Granary.Abstractions;
using Granary.Abstractions.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>A whole <c>chat.completion</c>.</summary>
public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, IReadOnlyList<ChatChoice> Choices, UsageBody Usage);

public sealed record ChatChoice(int Index, ChatReply Message, ChatLogprobs? Logprobs, string? FinishReason);

public sealed record ChatReply(string Role, string Content);

/// <summary>One streamed <c>chat.completion.chunk</c>.</summary>
public sealed record ChatCompletionChunk(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<ChatChunkChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UsageBody? Usage);

public sealed record ChatChunkChoice(int Index, ChatDelta Delta, ChatLogprobs? Logprobs, string? FinishReason);

public sealed record ChatDelta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content);

/// <summary>/v1/chat/completions responses.</summary>
public sealed class ChatCompletionShape(ResponseIdentity identity) : IResponseShape
{
    const string Assistant = "assistant";

    // As OpenAI does: the first chunk opens the assistant's turn before any content.
    public object? Opening() => Chunk([new ChatChunkChoice(0, new ChatDelta(Assistant, ""), null, null)], usage: null);

    public object? Chunk(CompletionChunk chunk, int textOffset)
    {
        if (chunk.Text.Length == 0 && chunk.Logprobs is null && chunk.FinishReason is null) return null;
        var delta = new ChatDelta(null, chunk.Text.Length > 0 || chunk.FinishReason is null ? chunk.Text : null);
        var logprobs = LogprobsFormats.ForChat(chunk.Logprobs, identity.TokensAsIds);
        return Chunk([new ChatChunkChoice(0, delta, logprobs, chunk.FinishReason?.ToWireName())], usage: null);
    }

    public object UsageChunk(UsageBody usage) => Chunk([], usage);

    public object Response(GenerationOutcome outcome) => new ChatCompletionResponse(
        identity.Id, "chat.completion", identity.Created, identity.Model,
        [new ChatChoice(0, new ChatReply(Assistant, outcome.Text),
            LogprobsFormats.ForChat(outcome.Logprobs?.Select(p => p.Logprob), identity.TokensAsIds), outcome.FinishReason?.ToWireName())],
        outcome.Usage);

    ChatCompletionChunk Chunk(IReadOnlyList<ChatChunkChoice> choices, UsageBody? usage) =>
        new(identity.Id, "chat.completion.chunk", identity.Created, identity.Model, choices, usage);
}
