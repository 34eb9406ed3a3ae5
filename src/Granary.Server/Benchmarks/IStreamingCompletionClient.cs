namespace Granary.Server.Benchmarks;

/// <summary>One completion a bench client sends: greedy, end-of-sequence ignored, exactly <see cref="MaxTokens"/> tokens.</summary>
public sealed record BenchCompletion(string Prompt, int MaxTokens);

/// <summary>
/// How a bench client reaches the server: sends one streaming completion and yields, as each piece
/// arrives, how many tokens it carries. <see cref="GatewayCompletionClient"/> goes in-process through the
/// path the HTTP and gRPC handlers use; an OpenAI-API (SSE) client can implement the same interface.
/// </summary>
public interface IStreamingCompletionClient
{
    /// <summary>Throws <see cref="InvalidOperationException"/> when the server refuses or fails the request.</summary>
    IAsyncEnumerable<int> StreamAsync(BenchCompletion completion, CancellationToken cancellationToken);
}
