using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.KvCache;

/// <summary>
/// One K/V storage shared by the caches of a model: [layers, 2 (k, v), kvHeads, positions, headDim]. Each
/// <see cref="SequenceKvCache"/> reserves a contiguous range of positions, so one sequence still reads its
/// keys as a view, while a batch of decoding sequences is written and gathered with one index op per layer
/// instead of a dozen small ops per sequence.
/// The storage grows (reallocate and copy) when no free range fits, and is freed when the last range is released.
/// NOTE: growing replaces the storage, so <see cref="Reserve"/> must not run while a forward on another thread
/// uses the pool; the engine reserves while scheduling, between steps.
/// </summary>
public sealed class KvCachePool : IDisposable
{
    const double GrowthFactor = 1.5;

    readonly int _numLayers, _numKvHeads, _headDim;
    readonly List<(int Start, int Length)> _freeRanges = []; // sorted by start, never adjacent
    readonly object _lock = new();
    Tensor? _storage;
    Tensor[] _layers = []; // per layer: [2, kvHeads, positions, headDim] views of _storage
    int _numReservedRanges;

    public KvCachePool(int numLayers, int numKvHeads, int headDim, ScalarType dtype, Device device)
    {
        _numLayers = numLayers;
        _numKvHeads = numKvHeads;
        _headDim = headDim;
        DType = dtype;
        Device = device;
        using var probe = empty(1, dtype);
        NumBytesPerPosition = 2L * numLayers * numKvHeads * headDim * probe.ElementSize;
    }

    public int NumKvHeads => _numKvHeads;

    public ScalarType DType { get; }

    public Device Device { get; }

    /// <summary>Positions the storage holds now, reserved or free.</summary>
    public int NumPositions { get; private set; }

    /// <summary>Bytes of one position in every layer (keys and values).</summary>
    public long NumBytesPerPosition { get; }

    /// <summary>Keys and values of one layer, [2, kvHeads, positions, headDim]; valid until the next <see cref="Reserve"/>.</summary>
    internal Tensor Layer(int layer) => _layers[layer];

    /// <summary>A copy of pool positions [start, start + count): [layers, 2, kvHeads, count, headDim].</summary>
    internal Tensor CopyRange(int start, int count)
    {
        var storage = _storage ?? throw new InvalidOperationException("the KV pool holds no storage");
        using var view = storage.narrow(3, start, count);
        return view.clone();
    }

    /// <summary>Writes <paramref name="kv"/> [layers, 2, kvHeads, n, headDim] at pool positions [start, start + n).</summary>
    internal void WriteRange(int start, Tensor kv)
    {
        var storage = _storage ?? throw new InvalidOperationException("the KV pool holds no storage");
        using var view = storage.narrow(3, start, kv.size(3));
        view.copy_(kv);
    }

    /// <summary>Reserves <paramref name="numPositions"/> contiguous positions; returns the first.</summary>
    internal int Reserve(int numPositions)
    {
        if (numPositions <= 0) throw new ArgumentOutOfRangeException(nameof(numPositions), "KV cache capacity must be positive");
        lock (_lock)
        {
            int index = _freeRanges.FindIndex(r => r.Length >= numPositions);
            if (index < 0)
            {
                Grow(numPositions);
                index = _freeRanges.FindIndex(r => r.Length >= numPositions);
            }
            var (start, length) = _freeRanges[index];
            if (length == numPositions) _freeRanges.RemoveAt(index);
            else _freeRanges[index] = (start + numPositions, length - numPositions);
            _numReservedRanges++;
            return start;
        }
    }

    internal void Release(int start, int numPositions)
    {
        lock (_lock)
        {
            if (_storage is null) return; // the pool was disposed first
            int index = _freeRanges.FindIndex(r => r.Start > start);
            if (index < 0) index = _freeRanges.Count;
            _freeRanges.Insert(index, (start, numPositions));
            MergeWithNext(index);
            if (index > 0) MergeWithNext(index - 1);
            if (--_numReservedRanges == 0) FreeStorage(); // "Dispose frees memory" holds once every cache is gone
        }
    }

    // Makes room for a range of numPositions at the end, keeping every reserved range where it is.
    void Grow(int numPositions)
    {
        int tailFree = _freeRanges.Count > 0 && _freeRanges[^1].Start + _freeRanges[^1].Length == NumPositions ? _freeRanges[^1].Length : 0;
        int newSize = Math.Max(NumPositions + numPositions - tailFree, (int)Math.Min(int.MaxValue, NumPositions * GrowthFactor));
        using var scope = NewDisposeScope();
        var storage = empty([_numLayers, 2, _numKvHeads, newSize, _headDim], DType, Device);
        if (_storage is not null) storage.narrow(3, 0, NumPositions).copy_(_storage);
        int oldSize = NumPositions;
        DisposeTensors();
        _storage = storage.DetachFromDisposeScope();
        _layers = Enumerable.Range(0, _numLayers).Select(l => _storage[l].DetachFromDisposeScope()).ToArray();
        NumPositions = newSize;
        _freeRanges.Add((oldSize, newSize - oldSize));
        MergeWithNext(_freeRanges.Count - 2);
    }

    void MergeWithNext(int index)
    {
        if (index < 0 || index + 1 >= _freeRanges.Count) return;
        var (start, length) = _freeRanges[index];
        var next = _freeRanges[index + 1];
        if (start + length != next.Start) return;
        _freeRanges[index] = (start, length + next.Length);
        _freeRanges.RemoveAt(index + 1);
    }

    void FreeStorage()
    {
        DisposeTensors();
        NumPositions = 0;
        _freeRanges.Clear();
    }

    void DisposeTensors()
    {
        foreach (var layer in _layers) layer.Dispose();
        _layers = [];
        _storage?.Dispose();
        _storage = null;
    }

    public void Dispose()
    {
        lock (_lock) FreeStorage();
    }
}
