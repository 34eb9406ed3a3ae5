namespace Granary.Server.Api.Limits;

/// <summary>
/// Counts the generation requests this process is answering, and once draining starts (SIGTERM) refuses new
/// ones, so that shutdown can wait for the count to reach zero (<see cref="DrainAsync"/>).
/// </summary>
public sealed class DrainState
{
    readonly Lock _lock = new();
    int _numInFlight;
    bool _isDraining;
    TaskCompletionSource? _idle;

    public bool IsDraining
    {
        get { lock (_lock) return _isDraining; }
    }

    public int NumInFlight
    {
        get { lock (_lock) return _numInFlight; }
    }

    /// <summary>What a request refused while draining is told.</summary>
    public string Reason => "The server is shutting down and takes no new requests; retry the request (another replica will take it)";

    /// <summary>Counts a new request in; false once draining has started.</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            if (_isDraining) return false;
            _numInFlight++;
            return true;
        }
    }

    public void Leave()
    {
        lock (_lock)
        {
            _numInFlight--;
            if (_numInFlight == 0) _idle?.TrySetResult();
        }
    }

    /// <summary>From now on new requests are refused; returns once those in flight have finished, or <paramref name="grace"/> has passed.</summary>
    public async Task<bool> DrainAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        Task idle;
        lock (_lock)
        {
            _isDraining = true;
            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_numInFlight == 0) _idle.TrySetResult();
            idle = _idle.Task;
        }
        return await WaitUntilIdleAsync(idle, grace, cancellationToken);
    }

    static async Task<bool> WaitUntilIdleAsync(Task idle, TimeSpan grace, CancellationToken cancellationToken)
    {
        try
        {
            await idle.WaitAsync(grace, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            return false;
        }
    }
}
