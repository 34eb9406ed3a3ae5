using Granary.Abstractions.Serving;
using Granary.Grpc.V1;
using Grpc.Core;
using FinishReason = Granary.Abstractions.FinishReason;
using WireFinishReason = Granary.Grpc.V1.FinishReason;
using TokenLogprob = Granary.Grpc.V1.TokenLogprob;
using TopLogprob = Granary.Grpc.V1.TopLogprob;

namespace Granary.Server.Api.Grpc;

/// <summary>The gateway's chunks and errors as the gRPC contract sends them.</summary>
internal static class GrpcChunks
{
    public static GenerateChunk From(CompletionChunk chunk)
    {
        var wire = new GenerateChunk { Text = chunk.Text };
        wire.TokenIds.Add(chunk.TokenIds);
        if (chunk.Logprobs is { } logprobs) wire.Logprobs.Add(logprobs.Select(From));
        if (chunk.FinishReason is { } reason)
        {
            wire.FinishReason = reason switch
            {
                FinishReason.Stop => WireFinishReason.Stop,
                FinishReason.Length => WireFinishReason.Length,
                _ => throw new ArgumentOutOfRangeException(nameof(chunk), reason, "unknown finish reason"),
            };
            wire.Usage = new Usage
            {
                PromptTokens = chunk.PromptTokens,
                CompletionTokens = chunk.CompletionTokens,
                TotalTokens = chunk.PromptTokens + chunk.CompletionTokens,
            };
        }
        return wire;
    }

    /// <summary>A refusal or failure as the gRPC status a client can act on (fix the request, retry later, ...).</summary>
    public static RpcException ToRpcException(ServingError error) => new(new Status(error.Kind switch
    {
        ServingErrorKind.InvalidRequest => StatusCode.InvalidArgument,
        ServingErrorKind.QueueFull => StatusCode.ResourceExhausted,
        ServingErrorKind.Unavailable => StatusCode.Unavailable,
        _ => StatusCode.Internal,
    }, error.Message));

    static TokenLogprob From(Abstractions.Serving.TokenLogprob logprob)
    {
        var wire = new TokenLogprob { TokenId = logprob.TokenId, Token = logprob.Token, Logprob = logprob.Logprob };
        wire.Top.Add(logprob.Top.Select(t => new TopLogprob { TokenId = t.TokenId, Token = t.Token, Logprob = t.Logprob }));
        return wire;
    }
}
