namespace Granary.Grains.Sharding;

/// <summary>
/// The one thread a shard's forwards run on: forwards block (libtorch, and all-reduces waiting for peers),
/// so they stay off the grain scheduler and the thread pool; one long-lived thread avoids starting a thread
/// per step, and keeps libtorch's per-thread state warm.
/// </summary>
public sealed class ShardWorker : IDisposable
{
    readonly System.Collections.Concurrent.BlockingCollection<Action> _work = new();
    readonly Thread _thread;

    public ShardWorker(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public Task<T> Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    void Run()
    {
        foreach (var work in _work.GetConsumingEnumerable()) work();
    }

    public void Dispose() => _work.CompleteAdding();
}
