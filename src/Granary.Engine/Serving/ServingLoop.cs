using System.Diagnostics;
using System.Collections.Concurrent;
using System.Threading.Channels;
using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Model.Runtime;

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

    /// <summary>How often an idle loop runs the engine's timers (KV pin expiry).</summary>
    public static TimeSpan IdleTimerPeriod { get; set; } = TimeSpan.FromSeconds(1);
    readonly Lock _closing = new();
    readonly Dictionary<Sequence, ChannelWriter<CompletionChunk>> _streams = [];
    readonly Thread _thread;
    volatile bool _stopping;
    string _stopReason = "the deployment shut down before the request finished; retry it";
    bool _isClosed; // guarded by _closing: the thread has exited and commands run on their caller's thread
    bool _disposed; // guarded by _closing
    volatile ServingLoad _load = new(0, 0, 0);
    int _numOpen; // requests submitted and not yet ended (read from any thread, for lanes to balance on)
    readonly StepMetricLabels? _metricLabels;

    public ServingLoop(InferenceEngine engine, string name = "granary-serving", StepMetricLabels? metricLabels = null)
    {
        _engine = engine;
        _metricLabels = metricLabels;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Load as of the last step (read from any thread).</summary>
    public ServingLoad Load => _load;

    /// <summary>Requests submitted to this loop that have not ended yet, counted from the moment of submission.</summary>
    public int NumOpenRequests => Volatile.Read(ref _numOpen);

    /// <summary>KV positions all running sequences may reserve together (the engine's scheduler budget).</summary>
    public long KvTokenBudget => _engine.Scheduler.Options.KvCacheTokenBudget;

    /// <summary>Test seam: runs on the loop thread after each step, before its chunks are written.</summary>
    internal Action<ServingStep>? OnStepped { get; set; }

    /// <summary>
    /// Queues a request. The task fails with <see cref="GranaryUserError"/> for bad input and
    /// <see cref="QueueFullException"/> when the waiting queue is full; otherwise it yields the request's stream.
    /// </summary>
    public Task<ServingStream> SubmitAsync(GenerationRequest request)
    {
        // The caller's trace is only current on the caller's thread: capture it before the command crosses over.
        if (request.TraceParent is null && Activity.Current is { } caller) request = request with { TraceParent = caller.Context };
        var submitted = new TaskCompletionSource<ServingStream>(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Increment(ref _numOpen);
        Post(() =>
        {
            if (_stopping)
            {
                Interlocked.Decrement(ref _numOpen);
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
                Interlocked.Decrement(ref _numOpen);
                submitted.SetException(e);
            }
        });
        return submitted.Task;
    }

    /// <summary>Stops the sequence before the next step and frees its KV; its stream ends without a finish reason.</summary>
    internal void Cancel(Sequence sequence) => Post(() =>
    {
        if (!_streams.Remove(sequence, out var writer)) return;
        Interlocked.Decrement(ref _numOpen);
        _engine.Cancel(sequence);
        _engine.Scheduler.RemoveLeavers();
        PublishLoad();
        writer.TryComplete();
    });

    void Post(Action command)
    {
        lock (_closing)
        {
            if (!_isClosed)
            {
                _commands.Enqueue(command);
                _wake.Release();
                return;
            }
        }
        // NOTE: once closed, a command only finds _stopping set and no open streams, so it is safe on any thread.
        command();
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
                // An idle engine's clocks still run: a pin whose TTL ends while nothing arrives demotes on time.
                if (_engine.Scheduler.HasTimers)
                {
                    _wake.Wait(IdleTimerPeriod);
                    _engine.Scheduler.RunTimers();
                }
                else
                    _wake.Wait();
                continue;
            }
            Step();
        }
        FailAll(ServingErrorKind.Unavailable, _stopReason);
        lock (_closing) _isClosed = true;
        // Commands posted while the thread was leaving would otherwise never run (a submission would hang).
        while (_commands.TryDequeue(out var command)) command();
    }

    void Step()
    {
        IReadOnlyList<ScheduledChunk> plan;
        IReadOnlyList<SequenceUpdate> updates;
        long startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        Activity? step = null;
        try
        {
            plan = _engine.Scheduler.Schedule();
            step = StepTracing.StartStep(plan);
            updates = _engine.StepPlanned(plan);
            step?.Dispose();
        }
        catch (ModelUnavailableException e)
        {
            step?.SetStatus(ActivityStatusCode.Error, e.Message);
            step?.Dispose();
            FailAll(ServingErrorKind.Unavailable, $"{e.Message}; retry the request");
            return;
        }
        catch (Exception e)
        {
            step?.SetStatus(ActivityStatusCode.Error, e.Message);
            step?.Dispose();
            // A failed forward leaves no trustworthy state for the sequences in it: end them all, keep serving.
            FailAll(ServingErrorKind.Internal, $"the model step failed: {e.Message}");
            return;
        }
        StepMetrics.RecordLoopStep(startedAt, _metricLabels);
        OnStepped?.Invoke(new ServingStep(plan, updates));
        var chunks = updates.Select(ToChunk).ToList();
        // NOTE: finished sequences leave (freeing KV) and the load is published before their last chunk is
        // written, so a caller that has seen a request end never reads a load that still counts it.
        _engine.Scheduler.RemoveLeavers();
        PublishLoad();
        for (int i = 0; i < updates.Count; i++)
        {
            var sequence = updates[i].Sequence;
            if (!_streams.TryGetValue(sequence, out var writer)) continue;
            writer.TryWrite(chunks[i]);
            if (sequence.IsFinished)
            {
                writer.TryComplete();
                _streams.Remove(sequence);
                Interlocked.Decrement(ref _numOpen);
            }
        }
    }

    static CompletionChunk ToChunk(SequenceUpdate update) => new()
    {
        TokenIds = [.. update.TokenIds], // with speculation, every token a step accepted
        Text = update.NewText,
        Logprobs = update.Logprobs?.ToArray(),
        FinishReason = update.Sequence.FinishReason,
        PromptTokens = update.Sequence.Request.PromptTokenIds.Count,
        CompletionTokens = update.Sequence.OutputTokenIds.Count,
        QueueTimeSeconds = update.Sequence.OutputTokenIds.Count == update.TokenIds.Count ? update.Sequence.QueueTime?.TotalSeconds : null, // first chunk
    };

    void FailAll(ServingErrorKind kind, string message)
    {
        foreach (var (sequence, writer) in _streams)
        {
            writer.TryWrite(CompletionChunk.Failed(kind, message));
            writer.TryComplete();
            _engine.Cancel(sequence);
        }
        Interlocked.Add(ref _numOpen, -_streams.Count);
        _streams.Clear();
        _engine.Scheduler.RemoveLeavers();
        PublishLoad();
    }

    void PublishLoad() =>
        _load = new ServingLoad(_engine.Scheduler.NumRunning, _engine.Scheduler.NumWaiting, _engine.Scheduler.NumKvTokensReserved);

    /// <summary>Ends every open stream with an "unavailable" error saying <paramref name="reason"/> and stops the thread.</summary>
    public void Stop(string reason)
    {
        BeginStop(reason);
        Dispose();
    }

    /// <summary>
    /// Tells the thread to stop after its current step (failing every open stream with <paramref name="reason"/>)
    /// without waiting for it: <see cref="Dispose"/> then waits. Lets several loops stop at once.
    /// </summary>
    public void BeginStop(string? reason = null)
    {
        lock (_closing)
        {
            if (_stopping) return;
            if (reason is not null) _stopReason = reason;
            _stopping = true;
        }
        _wake.Release();
    }

    /// <summary>Ends every open stream with an "unavailable" error and stops the thread (waiting for it).</summary>
    public void Dispose()
    {
        BeginStop();
        lock (_closing)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _thread.Join();
        _engine.Scheduler.RemoveLeavers();
        _wake.Dispose();
    }
}

/// <summary>The loop's load after its last step.</summary>
public sealed record ServingLoad(int NumRunning, int NumWaiting, long KvTokensReserved);

/// <summary>What one step ran (prompt chunks and decodes) and what it sampled.</summary>
internal sealed record ServingStep(IReadOnlyList<ScheduledChunk> Plan, IReadOnlyList<SequenceUpdate> Updates);
