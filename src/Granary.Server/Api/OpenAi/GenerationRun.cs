using System.Runtime.CompilerServices;
using Granary.Abstractions.Serving;
using Granary.Server.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>
/// One request sent to its deployment, its first chunk already in hand: a refusal is known before any
/// response byte is written (so it can still be a 4xx/429/503), and a stream is only opened for a request
/// that was accepted. Disposing stops the sequence on the router if it is still running.
/// </summary>
public sealed class GenerationRun : IAsyncDisposable
{
    readonly IAsyncEnumerator<CompletionChunk> _chunks;
    readonly CompletionChunk _first;
    readonly string _model;

    GenerationRun(IAsyncEnumerator<CompletionChunk> chunks, CompletionChunk first, string model)
    {
        _chunks = chunks;
        _first = first;
        _model = model;
    }

    /// <summary>
    /// Sends the request and waits for its first chunk. Returns the refusal instead when the deployment
    /// refused it or could not be reached. Throws <see cref="OperationCanceledException"/> when the client left.
    /// </summary>
    /// <param name="output">The request's chunks from <see cref="ModelGateway.Generate"/>.</param>
    /// <param name="model">The deployment, for messages.</param>
    public static async Task<(GenerationRun? Run, OpenAiError? Refusal)> StartAsync(
        IAsyncEnumerable<CompletionChunk> output, string model, CancellationToken cancellationToken)
    {
        var chunks = output.GetAsyncEnumerator(cancellationToken);
        OpenAiError? refusal;
        try
        {
            if (await chunks.MoveNextAsync())
            {
                if (chunks.Current.Error is not { } error) return (new GenerationRun(chunks, chunks.Current, model), null);
                refusal = OpenAiError.FromServing(error);
            }
            else
            {
                refusal = OpenAiError.Internal($"The deployment `{model}` ended the request without output");
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Refusals come back as chunks, so an exception here means the router could not be reached or activated.
            refusal = Unreachable(model, e);
        }
        catch
        {
            await DisposeQuietly(chunks); // the client left while the request waited for its first token
            throw;
        }
        await DisposeQuietly(chunks);
        return (null, refusal);
    }

    /// <summary>Every chunk, the first included. A failure mid-stream becomes a last chunk with an error.</summary>
    public async IAsyncEnumerable<CompletionChunk> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        yield return _first;
        if (_first.IsLast) yield break;
        while (true)
        {
            CompletionChunk chunk;
            try
            {
                if (!await _chunks.MoveNextAsync()) yield break;
                chunk = _chunks.Current;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                chunk = CompletionChunk.Failed(ServingErrorKind.Unavailable, Unreachable(_model, e).Message);
            }
            yield return chunk;
            if (chunk.IsLast) yield break;
        }
    }

    public ValueTask DisposeAsync() => DisposeQuietly(_chunks);

    static OpenAiError Unreachable(string model, Exception e) =>
        OpenAiError.Unavailable($"The deployment `{model}` is unavailable: {e.Message}");

    static async ValueTask DisposeQuietly(IAsyncEnumerator<CompletionChunk> chunks)
    {
        try
        {
            await chunks.DisposeAsync();
        }
        catch (Exception)
        {
            // The router is gone or the client left: nothing is left to free on our side.
        }
    }
}
