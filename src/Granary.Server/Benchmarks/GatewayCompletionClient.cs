using System.Runtime.CompilerServices;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Server.Serving;

namespace Granary.Server.Benchmarks;

/// <summary>
/// Streams completions through <see cref="ModelGateway.Generate"/> in the server's own process: the prompt
/// is tokenized by the deployment's frontend and the chunks come back from its router grain, as they do for
/// an HTTP or gRPC request, minus the wire protocol.
/// </summary>
public sealed class GatewayCompletionClient(ModelGateway gateway, ModelFrontend model) : IStreamingCompletionClient
{
    public async IAsyncEnumerable<int> StreamAsync(BenchCompletion completion, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new CompletionRequest
        {
            Model = model.Name,
            PromptTokenIds = model.EncodePrompt(completion.Prompt),
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = completion.MaxTokens, IgnoreEos = true },
        };
        await foreach (var chunk in gateway.Generate(request, cancellationToken))
        {
            if (chunk.Error is { } error) throw new InvalidOperationException($"the server did not run a bench request ({error.Kind}): {error.Message}");
            if (chunk.TokenIds.Length > 0) yield return chunk.TokenIds.Length;
        }
    }
}
