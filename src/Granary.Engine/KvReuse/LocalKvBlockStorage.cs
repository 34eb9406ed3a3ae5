using Granary.Model.KvCache;
using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>
/// The blocks of a model on one device, in up to three stores (device, host, cxl). Saving and restoring copy
/// on the caller's thread (the sequence's cache is only valid there); moves between tiers and frees run in
/// order on a background task, so demoting many blocks at once (a pin running out, room for a new request)
/// never holds up a decode step. A restore first waits for the block's own pending operations. Prefetches (for
/// requests still waiting) load lower-tier blocks onto the device on the same background task, so the restore at
/// admission is a device copy; a move or free of the block drops its prefetched copy.
/// </summary>
public sealed class LocalKvBlockStorage : IKvBlockStorage
{
    readonly Device _modelDevice;
    readonly IKvBlockStore?[] _stores = new IKvBlockStore?[3];
    readonly Dictionary<long, object> _handles = []; // guarded by _gate: the background task writes it too
    readonly Lock _gate = new(); // held only to read or change _handles and _prefetched, never across a store's I/O
    readonly Lock[] _storeLocks = [new(), new(), new()]; // one per tier: stores are not thread-safe
    readonly long[] _numBytes = new long[3];
    readonly Dictionary<long, long> _blockBytes = [];
    readonly Dictionary<long, Task> _pending = [];
    readonly Dictionary<long, Tensor> _prefetched = []; // guarded by _gate
    Task _tail = Task.CompletedTask;
    Exception? _fault;

    public LocalKvBlockStorage(Device modelDevice, IKvBlockStore device, IKvBlockStore? host = null, IKvBlockStore? cxl = null)
    {
        _modelDevice = modelDevice;
        _stores[0] = device;
        _stores[1] = host;
        _stores[2] = cxl;
    }

    public bool HasTier(KvTier tier) => _stores[(int)tier] is not null;

    public long NumBytes(KvTier tier) => _numBytes[(int)tier];

    public bool CanTransfer(IKvCache cache) => cache.CanTransferPositions;

    public void Save(long blockId, IKvCache cache, int start, int count, KvTier tier)
    {
        ThrowIfFaulted();
        var kv = cache.ExportPositions(start, count);
        long bytes = kv.NumberOfElements * kv.ElementSize;
        _blockBytes[blockId] = bytes;
        _numBytes[(int)tier] += bytes;
        if (tier == KvTier.Device)
        {
            StoreAndRecord(blockId, tier, kv);
            return;
        }
        Enqueue(blockId, () => StoreAndRecord(blockId, tier, kv));
    }

    void StoreAndRecord(long blockId, KvTier tier, Tensor kv)
    {
        object handle;
        using (kv) handle = StoreIn(tier, kv);
        lock (_gate) _handles[blockId] = handle;
    }

    public void Restore(long blockId, KvTier tier, IKvCache cache)
    {
        ThrowIfFaulted();
        if (_pending.Remove(blockId, out var pending) && !pending.IsCompleted)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            pending.GetAwaiter().GetResult();
            WaitSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        }
        Tensor? kv;
        object? handle = null;
        lock (_gate)
            if (!_prefetched.Remove(blockId, out kv)) handle = HandleOf(blockId);
        kv ??= LoadFrom(tier, handle!, _modelDevice);
        using (kv) cache.ImportPositions(kv);
    }

    /// <summary>Most blocks held prefetched at once (a waiting request may be cancelled and never use its copies).</summary>
    public const int MaxPrefetchedBlocks = 1024;

    /// <summary>Wall time restores spent waiting for their blocks' background moves (the caller's thread was blocked, not computing).</summary>
    public double WaitSeconds { get; private set; }

    /// <summary>Blocks loaded ahead of their restore and not yet used.</summary>
    public int NumPrefetched
    {
        get
        {
            lock (_gate) return _prefetched.Count;
        }
    }

    public void Prefetch(long blockId, KvTier tier)
    {
        ThrowIfFaulted();
        if (tier == KvTier.Device) return;
        StoreOf(tier); // the tier must be on
        Enqueue(blockId, () =>
        {
            object? handle;
            lock (_gate)
                if (_prefetched.Count >= MaxPrefetchedBlocks || _prefetched.ContainsKey(blockId) || !_handles.TryGetValue(blockId, out handle)) return;
            // Moves and frees of this block run on this same chain, and a restore waits for it: nothing changes the handle meanwhile.
            var kv = LoadFrom(tier, handle, _modelDevice);
            lock (_gate) _prefetched[blockId] = kv;
        });
    }

    void DropPrefetched(long blockId)
    {
        if (_prefetched.Remove(blockId, out var stale)) stale.Dispose();
    }

    public void Move(long blockId, KvTier from, KvTier to)
    {
        ThrowIfFaulted();
        long bytes = _blockBytes[blockId];
        _numBytes[(int)from] -= bytes;
        _numBytes[(int)to] += bytes;
        StoreOf(from); // both tiers must be on
        StoreOf(to);
        var device = to == KvTier.Device ? _modelDevice : CPU;
        Enqueue(blockId, () =>
        {
            object handle;
            lock (_gate)
            {
                DropPrefetched(blockId);
                handle = HandleOf(blockId);
            }
            StoreAndRecord(blockId, to, LoadFrom(from, handle, device));
            FreeIn(from, handle);
        });
    }

    public void Free(long blockId, KvTier tier)
    {
        ThrowIfFaulted();
        if (_blockBytes.Remove(blockId, out long bytes)) _numBytes[(int)tier] -= bytes;
        StoreOf(tier); // the tier must be on
        Enqueue(blockId, () =>
        {
            object? handle;
            lock (_gate)
            {
                DropPrefetched(blockId);
                if (!_handles.Remove(blockId, out handle)) return;
            }
            FreeIn(tier, handle);
        });
        _pending.Remove(blockId); // nothing reads a freed block again
    }

    /// <summary>Waits until every move and free asked for so far is done (tests, benchmarks, shutdown).</summary>
    public void Flush()
    {
        _tail.GetAwaiter().GetResult();
        _pending.Clear();
        ThrowIfFaulted();
    }

    // One background chain for all blocks: slots a move frees are free before a later move fills them.
    void Enqueue(long blockId, Action operation)
    {
        _tail = _tail.ContinueWith(_ =>
        {
            try
            {
                operation();
            }
            catch (Exception e)
            {
                _fault ??= e;
            }
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        _pending[blockId] = _tail;
        if (_pending.Count > 4096) // forget the finished ones now and then, so the map stays small
            foreach (var done in _pending.Where(p => p.Value.IsCompleted).Select(p => p.Key).ToList()) _pending.Remove(done);
    }

    void ThrowIfFaulted()
    {
        if (_fault is { } fault) throw new InvalidOperationException($"moving a KV block between tiers failed: {fault.Message}", fault);
    }

    object HandleOf(long blockId) =>
        _handles.TryGetValue(blockId, out var handle) ? handle : throw new InvalidOperationException($"KV block {blockId} is not stored");

    // A store's own operations, one at a time per store: the caller's thread and the background chain both use them.
    object StoreIn(KvTier tier, Tensor kv)
    {
        lock (_storeLocks[(int)tier]) return StoreOf(tier).Store(kv);
    }

    Tensor LoadFrom(KvTier tier, object handle, Device device)
    {
        lock (_storeLocks[(int)tier]) return StoreOf(tier).Load(handle, device);
    }

    void FreeIn(KvTier tier, object handle)
    {
        lock (_storeLocks[(int)tier]) StoreOf(tier).Free(handle);
    }

    IKvBlockStore StoreOf(KvTier tier) => _stores[(int)tier] ?? throw new InvalidOperationException($"the {tier.Label()} tier is off");

    public void Dispose()
    {
        try
        {
            _tail.GetAwaiter().GetResult();
        }
        finally
        {
            foreach (var store in _stores) store?.Dispose();
            foreach (var kv in _prefetched.Values) kv.Dispose();
            _prefetched.Clear();
            _handles.Clear();
        }
    }
}
