using System.Text.Json.Serialization;
using Granary.Abstractions;
using Granary.Abstractions.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>A <c>text_completion</c> object: the whole response, or one streamed chunk (no usage).</summary>
public sealed record CompletionResponse(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<CompletionChoice> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UsageBody? Usage);

public sealed record CompletionChoice(int Index, string Text, CompletionLogprobs? Logprobs, string? FinishReason);

/// <summary>/v1/completions responses.</summary>
public sealed class CompletionShape(ResponseIdentity identity) : IResponseShape
{
    const string ObjectName = "text_completion";

    public object? Opening() => null;

    public object? Chunk(CompletionChunk chunk, int textOffset)
    {
        if (chunk.Text.Length == 0 && chunk.Logprobs is null && chunk.FinishReason is null) return null;
        var logprobs = chunk.Logprobs is null ? null : LogprobsFormats.ForCompletion(PlacedLogprob.Place(chunk, textOffset), identity.TokensAsIds);
        return Response([new CompletionChoice(0, chunk.Text, logprobs, chunk.FinishReason?.ToWireName())], usage: null);
    }

    public object UsageChunk(UsageBody usage) => Response([], usage);

    public object Response(GenerationOutcome outcome) => Response(
        [new CompletionChoice(0, outcome.Text, LogprobsFormats.ForCompletion(outcome.Logprobs, identity.TokensAsIds), outcome.FinishReason?.ToWireName())],
        outcome.Usage);

    CompletionResponse Response(IReadOnlyList<CompletionChoice> choices, UsageBody? usage) =>
        new(identity.Id, ObjectName, identity.Created, identity.Model, choices, usage);
}
