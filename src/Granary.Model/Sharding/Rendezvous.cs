using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// Where the ranks of an in-process group meet: every rank leaves its tensor in a shared slot, then each
/// combines all of them (read in place, no copy) into a result of its own; the slots are free again once
/// every rank has read them. A rank that fails aborts the rendezvous, so the others leave instead of hanging.
/// </summary>
internal sealed class Rendezvous(int size)
{
    readonly Tensor?[] _slots = new Tensor?[size];
    // Phase 1: every tensor is in its slot. Phase 2: every rank has read them all, slots may be reused.
    readonly Barrier _barrier = new(size);
    readonly CancellationTokenSource _aborted = new();

    public int Size => size;

    public TResult Exchange<TResult>(int rank, Tensor mine, Func<IReadOnlyList<Tensor>, TResult> combine)
    {
        _slots[rank] = mine;
        Wait();
        TResult result;
        try
        {
            result = combine(_slots.Select(s => s!).ToArray());
        }
        finally
        {
            Wait();
        }
        _slots[rank] = null;
        return result;
    }

    void Wait()
    {
        try
        {
            _barrier.SignalAndWait(_aborted.Token);
        }
        catch (OperationCanceledException)
        {
            throw new InvalidOperationException("the group was aborted (another rank failed)");
        }
    }

    public void Abort() => _aborted.Cancel();
}
