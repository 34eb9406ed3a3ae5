using System.Collections.Concurrent;
using System.Threading.Channels;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;

namespace Granary.Engine.Serving;

/// <summary>
/// Continuous batching for many concurrent callers: one dedicated thread owns an <see cref="InferenceEngine"/>
/// and steps it while there is work, and sleeps when there is none. Callers never touch the engine: a
/// submission or a cancellation is a command the thread runs between two steps, so a request that arrives
/// while others decode joins the batch at the next step, and a finished or cancelled one leaves (freeing its
/// KV) without stalling the rest. Each request's chunks go to its own channel as soon as a step produces them.
/// </summary>
public sealed class ServingLoop : IDisposable
{
    readonly InferenceEngine _engine;
    readonly ConcurrentQueue<Action> _commands = new();
    readonly SemaphoreSlim _wake = new(0);
    readonly Dictionary<Sequence, ChannelWriter<CompletionChunk>> _streams = [];
    readonly Thread _thread;
    readonly long _kvTokenBudget;
    volatile bool _stopping;
    volatile ServingLoad _load = new(0, 0, 0);

    public ServingLoop(InferenceEngine engine, long kvTokenBudget, string name = "granary-serving")
    {
        _engine = engine;
        _kvTokenBudget = kvTokenBudget;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Load as of the last step (read from any thread).</summary>
    public ServingLoad Load => _load;

    public long KvTokenBudget => _kvTokenBudget;

    /// <summary>
    /// Queues a request. The task fails with <see cref="GranaryUserError"/> for bad input and
    /// <see cref="QueueFullException"/> when the waiting queue is full; otherwise it yields the request's stream.
    /// </summary>
    public Task<ServingStream> SubmitAsync(GenerationRequest request)
    {
        var submitted = new TaskCompletionSource<ServingStream>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            if (_stopping)
            {
                submitted.SetException(new ObjectDisposedException(nameof(ServingLoop), "the deployment is shutting down"));
                return;
            }
            try
            {
                var sequence = _engine.Submit(request);
                var channel = Channel.CreateUnbounded<CompletionChunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
                _streams[sequence] = channel.Writer;
                submitted.SetResult(new ServingStream(this, sequence, channel.Reader));
            }
            catch (Exception e)
            {
                submitted.SetException(e);
            }
        });
        return submitted.Task;
    }

    /// <summary>Stops the sequence before the next step and frees its KV; its stream ends without a finish reason.</summary>
    internal void Cancel(Sequence sequence) => Post(() =>
    {
        if (!_streams.Remove(sequence, out var writer)) return;
        _engine.Cancel(sequence);
        writer.TryComplete();
    });

    void Post(Action command)
    {
        _commands.Enqueue(command);
        _wake.Release();
    }

    void Run()
    {
        while (true)
        {
            while (_commands.TryDequeue(out var command)) command();
            if (_stopping) break;
            if (!_engine.HasWork)
            {
                PublishLoad();
                _wake.Wait();
                continue;
            }
            Step();
        }
        FailAll(ServingErrorKind.Unavailable, "the deployment shut down before the request finished; retry it");
    }

    void Step()
    {
        IReadOnlyList<SequenceUpdate> updates;
        try
        {
            updates = _engine.Step();
        }
        catch (Exception e)
        {
            // A failed forward leaves no trustworthy state for the sequences in it: end them all, keep serving.
            FailAll(ServingErrorKind.Internal, $"the model step failed: {e.Message}");
            return;
        }
        foreach (var update in updates)
        {
            if (!_streams.TryGetValue(update.Sequence, out var writer)) continue;
            var sequence = update.Sequence;
            writer.TryWrite(new CompletionChunk
            {
                TokenIds = [update.TokenId],
                Text = update.NewText,
                Logprobs = update.Logprob is { } logprob ? [logprob] : null,
                FinishReason = sequence.FinishReason,
                PromptTokens = sequence.Request.PromptTokenIds.Count,
                CompletionTokens = sequence.OutputTokenIds.Count,
            });
            if (sequence.IsFinished)
            {
                writer.TryComplete();
                _streams.Remove(sequence);
            }
        }
        PublishLoad();
    }

    void FailAll(ServingErrorKind kind, string message)
    {
        foreach (var (sequence, writer) in _streams)
        {
            writer.TryWrite(CompletionChunk.Failed(kind, message));
            writer.TryComplete();
            _engine.Cancel(sequence);
        }
        _streams.Clear();
        _engine.Scheduler.RemoveLeavers();
        PublishLoad();
    }

    void PublishLoad() =>
        _load = new ServingLoad(_engine.Scheduler.NumRunning, _engine.Scheduler.NumWaiting, _engine.Scheduler.NumKvTokensReserved);

    /// <summary>Ends every open stream with an "unavailable" error and stops the thread.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Release();
        _thread.Join();
        _engine.Scheduler.RemoveLeavers();
        _wake.Dispose();
    }
}

/// <summary>The loop's load after its last step.</summary>
public sealed record ServingLoad(int NumRunning, int NumWaiting, long KvTokensReserved);
