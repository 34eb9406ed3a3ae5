using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
using Granary.Model.Loading;

namespace Granary.Engine.Tests.Serving;

/// <summary>A prompt chunk or decode one step ran for one sequence.</summary>
public sealed record PlannedChunk(long SequenceId, int NumTokens, bool SamplesNextToken);

/// <summary>A token one step sampled, with the sequence's state right after it.</summary>
public sealed record SampledToken(long SequenceId, int TokenId, int NumOutputTokens, bool IsFinished);

/// <summary>One step of the loop, as the step hook saw it.</summary>
public sealed record StepRecord(int Index, IReadOnlyList<PlannedChunk> Plan, IReadOnlyList<SampledToken> Sampled)
{
    public int NumTokens => Plan.Sum(c => c.NumTokens);
}

/// <summary>
/// A <see cref="ServingLoop"/> on a loaded model that records every step and can hold the loop thread
/// after a chosen step. Holding is what makes the tests deterministic: while the loop is held, the test
/// posts submissions or cancellations, which the loop then runs before its very next step.
/// </summary>
public sealed class ServingHarness : IDisposable
{
    public static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    readonly Lock _lock = new();
    readonly List<StepRecord> _steps = [];
    StepHold? _hold;

    public ServingHarness(LoadedModel model, SchedulerOptions? options = null)
    {
        options ??= new SchedulerOptions();
        Loop = new ServingLoop(new InferenceEngine(model.Model, model.Tokenizer, options)) { OnStepped = Record };
    }

    public ServingLoop Loop { get; }

    public IReadOnlyList<StepRecord> Steps
    {
        get { lock (_lock) return _steps.ToList(); }
    }

    /// <summary>Holds the loop thread after the first step (from now on) that matches, until released.</summary>
    public StepHold HoldAfter(Func<StepRecord, bool> when)
    {
        var hold = new StepHold(when);
        lock (_lock) _hold = hold;
        return hold;
    }

    void Record(ServingStep step)
    {
        StepHold? hold;
        StepRecord record;
        lock (_lock)
        {
            record = new StepRecord(
                _steps.Count,
                step.Plan.Select(c => new PlannedChunk(c.Sequence.Id, c.TokenIds.Count, c.SamplesNextToken)).ToList(),
                step.Updates.Select(u => new SampledToken(u.Sequence.Id, u.TokenId, u.Sequence.OutputTokenIds.Count, u.IsFinished)).ToList());
            _steps.Add(record);
            hold = _hold is { } pending && pending.Matches(record) ? pending : null;
            if (hold is not null) _hold = null;
        }
        hold?.HoldLoopThread(record);
    }

    /// <summary>Reads a stream to its end (failing the test instead of hanging).</summary>
    public static async Task<List<CompletionChunk>> ReadAll(ServingStream stream)
    {
        var chunks = new List<CompletionChunk>();
        await foreach (var chunk in stream.ReadAllAsync().WithTimeout(TestTimeout)) chunks.Add(chunk);
        return chunks;
    }

    public static int[] Tokens(IEnumerable<CompletionChunk> chunks) => chunks.SelectMany(c => c.TokenIds).ToArray();

    /// <summary>Waits until the condition holds (for state another thread publishes), failing after the timeout.</summary>
    public static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TestTimeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    public void Dispose() => Loop.Dispose();
}

/// <summary>A pending hold of the loop thread: <see cref="Reached"/> completes with the step it holds after.</summary>
public sealed class StepHold(Func<StepRecord, bool> when)
{
    readonly TaskCompletionSource<StepRecord> _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly ManualResetEventSlim _released = new();

    public Task<StepRecord> Reached => _reached.Task.WaitAsync(ServingHarness.TestTimeout);

    internal bool Matches(StepRecord record) => when(record);

    internal void HoldLoopThread(StepRecord record)
    {
        _reached.SetResult(record);
        // NOTE: bounded, so a failing test cannot wedge the loop thread (and the test run) forever.
        _released.Wait(ServingHarness.TestTimeout);
    }

    public void Release() => _released.Set();
}

static class AsyncEnumerableTimeout
{
    public static async IAsyncEnumerable<T> WithTimeout<T>(this IAsyncEnumerable<T> source, TimeSpan timeout)
    {
        await using var enumerator = source.GetAsyncEnumerator();
        while (await enumerator.MoveNextAsync().AsTask().WaitAsync(timeout)) yield return enumerator.Current;
    }
}
