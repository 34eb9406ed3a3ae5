using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;

namespace Granary.Engine.Serving;

/// <summary>
/// One submitted request's output as it is produced. Reading it to the end yields every chunk, the last with
/// a finish reason (or an error). Cancelling — explicitly, or by cancelling the token given to
/// <see cref="ReadAllAsync"/>, or by disposing — stops the sequence and frees its KV.
/// </summary>
public sealed class ServingStream : IDisposable
{
    readonly ServingLoop _loop;
    readonly Sequence _sequence;
    readonly ChannelReader<CompletionChunk> _chunks;
    bool _finished;

    internal ServingStream(ServingLoop loop, Sequence sequence, ChannelReader<CompletionChunk> chunks)
    {
        _loop = loop;
        _sequence = sequence;
        _chunks = chunks;
    }

    /// <summary>Engine-wide id of the request, in submission order.</summary>
    public long Id => _sequence.Id;

    public int PromptTokens => _sequence.Request.PromptTokenIds.Count;

    public async IAsyncEnumerable<CompletionChunk> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var onCancel = cancellationToken.Register(Cancel);
        while (await _chunks.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            while (_chunks.TryRead(out var chunk))
            {
                // Chunks already buffered must not outlive a cancellation: the caller stopped listening.
                cancellationToken.ThrowIfCancellationRequested();
                if (chunk.IsLast) _finished = true;
                yield return chunk;
            }
    }

    public void Cancel()
    {
        if (!_finished) _loop.Cancel(_sequence);
    }

    /// <summary>Cancels the request unless it already finished.</summary>
    public void Dispose() => Cancel();
}
