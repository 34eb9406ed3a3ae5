using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.KvCache;

/// <summary>
/// The keys and values of one sequence for every layer, in one preallocated buffer of a fixed capacity.
/// Layout: [layers, 2 (k, v), kvHeads, capacity, headDim]. Positions [0, Length) are valid; a forward
/// writes new tokens at [Length, Length + n) in every layer, then the runner calls <see cref="Advance"/>.
/// <see cref="Truncate"/> rolls back (rejected speculative tokens).
/// </summary>
public sealed class SequenceKvCache : IDisposable
{
    readonly Tensor _buffer;

    public SequenceKvCache(int numLayers, int numKvHeads, int headDim, int capacity, ScalarType dtype, Device device)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), "KV cache capacity must be positive");
        Capacity = capacity;
        _buffer = empty([numLayers, 2, numKvHeads, capacity, headDim], dtype, device);
    }

    public int Capacity { get; }

    /// <summary>Number of positions whose keys and values are stored.</summary>
    public int Length { get; private set; }

    public int NumFreeTokens => Capacity - Length;

    public long NumBytes => _buffer.NumberOfElements * _buffer.ElementSize;

    public bool CanAppend(int numTokens) => Length + numTokens <= Capacity;

    /// <summary>Stores k, v: [kvHeads, n, headDim] of <paramref name="layer"/> at positions [Length, Length + n).</summary>
    public void Write(int layer, Tensor keys, Tensor values)
    {
        long n = keys.size(1);
        if (Length + n > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + {n} tokens exceed capacity {Capacity}");
        using var layerKv = _buffer[layer];
        using var k = layerKv[0].narrow(1, Length, n);
        using var v = layerKv[1].narrow(1, Length, n);
        k.copy_(keys);
        v.copy_(values);
    }

    /// <summary>Views of keys and values [kvHeads, Length + numPending, headDim] of one layer.</summary>
    public (Tensor Keys, Tensor Values) Read(int layer, int numPending)
    {
        using var layerKv = _buffer[layer];
        using var k = layerKv[0];
        using var v = layerKv[1];
        return (k.narrow(1, 0, Length + numPending), v.narrow(1, 0, Length + numPending));
    }

    public void Advance(int numTokens)
    {
        if (numTokens < 0 || Length + numTokens > Capacity) throw new ArgumentOutOfRangeException(nameof(numTokens));
        Length += numTokens;
    }

    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        Length = length;
    }

    public void Dispose() => _buffer.Dispose();
}
