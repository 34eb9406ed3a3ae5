using Granary.Abstractions.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>
/// What /v1/completions and /v1/chat/completions render differently; reading chunks, streaming them as
/// server-sent events and mapping errors is shared (<see cref="GenerationResponder"/>).
/// </summary>
public interface IResponseShape
{
    /// <summary>An event sent before the first token's (chat: the assistant role), or null.</summary>
    object? Opening();

    /// <summary>One streamed chunk; null when it carries nothing to send. <paramref name="textOffset"/>: text sent before it.</summary>
    object? Chunk(CompletionChunk chunk, int textOffset);

    /// <summary>The last streamed event with <c>stream_options.include_usage</c>: usage and no choices.</summary>
    object UsageChunk(UsageBody usage);

    /// <summary>The whole response of a request that was not streamed.</summary>
    object Response(GenerationOutcome outcome);
}
