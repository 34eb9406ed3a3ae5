namespace Granary.Grains.Sharding;

/// <summary>
/// Hidden states the previous pipeline stage pushed to this shard, matched by step id to the micro-batch that
/// waits for them. Either side may come first: a push arriving before its micro-batch is kept until asked for.
/// A push nobody asks for (its step failed elsewhere) is dropped once a later step has been received.
/// </summary>
public sealed class StageInputs
{
    readonly Dictionary<long, TaskCompletionSource<TensorPayload>> _pending = [];

    /// <summary>The previous stage's output for step <paramref name="stepId"/>.</summary>
    public void Accept(long stepId, TensorPayload hidden)
    {
        TaskCompletionSource<TensorPayload> slot;
        lock (_pending) slot = Slot(stepId);
        slot.TrySetResult(hidden); // outside the lock: the waiting micro-batch may continue inline

    }

    /// <summary>Waits for step <paramref name="stepId"/>'s input; a <see cref="TimeoutException"/> when it does not come in time.</summary>
    public async Task<TensorPayload> Receive(long stepId, TimeSpan timeout)
    {
        Task<TensorPayload> input;
        lock (_pending) input = Slot(stepId).Task;
        try
        {
            return await input.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the previous pipeline stage's output for step {stepId} did not arrive within {timeout.TotalSeconds:F0} s");
        }
        finally
        {
            lock (_pending)
            {
                _pending.Remove(stepId);
                // Steps reach a stage in increasing order: an earlier input still here belongs to a step that failed.
                foreach (long stale in _pending.Where(p => p.Key < stepId && p.Value.Task.IsCompleted).Select(p => p.Key).ToList())
                    _pending.Remove(stale);
            }
        }
    }

    /// <summary>Inputs received but not yet asked for, and micro-batches waiting for theirs.</summary>
    public int NumPending
    {
        get
        {
            lock (_pending) return _pending.Count;
        }
    }

    TaskCompletionSource<TensorPayload> Slot(long stepId)
    {
        if (!_pending.TryGetValue(stepId, out var slot))
            _pending[stepId] = slot = new TaskCompletionSource<TensorPayload>();
        return slot;
    }
}
