using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.KvCache;

/// <summary>
/// The keys and values of one sequence for every layer: a fixed-capacity range of positions
/// [<see cref="PoolStart"/>, PoolStart + Capacity) in a <see cref="KvCachePool"/>. Positions [0, Length) are
/// valid; a forward writes new tokens at [Length, Length + n) in every layer, then the runner calls
/// <see cref="Advance"/>. <see cref="Truncate"/> rolls back (rejected speculative tokens). Dispose returns
/// the range to the pool.
/// </summary>
public sealed class SequenceKvCache : IKvCache
{
    readonly KvCachePool? _ownedPool; // set when the cache was made on its own, outside a model's pool
    bool _disposed;

    /// <summary>A cache with a pool of its own (callers without a model; a model's caches share its pool).</summary>
    public SequenceKvCache(int numLayers, int numKvHeads, int headDim, int capacity, ScalarType dtype, Device device)
        : this(new KvCachePool(numLayers, numKvHeads, headDim, dtype, device), capacity) =>
        _ownedPool = Pool;

    public SequenceKvCache(KvCachePool pool, int capacity)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), "KV cache capacity must be positive");
        Pool = pool;
        Capacity = capacity;
        PoolStart = pool.Reserve(capacity);
    }

    public KvCachePool Pool { get; }

    /// <summary>The pool position of this sequence's position 0.</summary>
    public int PoolStart { get; }

    public int Capacity { get; }

    /// <summary>Number of positions whose keys and values are stored.</summary>
    public int Length { get; private set; }

    public int NumFreeTokens => Capacity - Length;

    public long NumBytes => Capacity * Pool.NumBytesPerPosition;

    public bool CanAppend(int numTokens) => Length + numTokens <= Capacity;

    /// <summary>Stores k, v: [kvHeads, n, headDim] of <paramref name="layer"/> at positions [Length, Length + n).</summary>
    public void Write(int layer, Tensor keys, Tensor values)
    {
        long n = keys.size(1);
        if (Length + n > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + {n} tokens exceed capacity {Capacity}");
        using var slots = Pool.Layer(layer).narrow(2, PoolStart + Length, n); // [2, kvHeads, n, headDim]
        using var k = slots[0];
        using var v = slots[1];
        k.copy_(keys);
        v.copy_(values);
    }

    /// <summary>Views of keys and values [kvHeads, Length + numPending, headDim] of one layer.</summary>
    public (Tensor Keys, Tensor Values) Read(int layer, int numPending)
    {
        using var stored = Pool.Layer(layer).narrow(2, PoolStart, Length + numPending); // [2, kvHeads, L, headDim]
        return (stored[0], stored[1]);
    }

    public void Advance(int numTokens)
    {
        if (numTokens < 0 || Length + numTokens > Capacity) throw new ArgumentOutOfRangeException(nameof(numTokens));
        Length += numTokens;
    }

    public bool CanTransferPositions => true;

    public Tensor ExportPositions(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Length) throw new ArgumentOutOfRangeException(nameof(count), $"positions [{start}, {start + count}) are not all stored (length {Length})");
        return Pool.CopyRange(PoolStart + start, count);
    }

    public void ImportPositions(Tensor kv)
    {
        int n = (int)kv.size(3);
        if (!CanAppend(n)) throw new InvalidOperationException($"KV cache full: {Length} + {n} positions exceed capacity {Capacity}");
        Pool.WriteRange(PoolStart + Length, kv);
        Length += n;
    }

    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        Length = length;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Pool.Release(PoolStart, Capacity);
        _ownedPool?.Dispose();
    }
}
