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
    readonly Tensor[] _keys, _values; // per layer: [kvHeads, capacity, headDim] views of _buffer, made once

    public SequenceKvCache(int numLayers, int numKvHeads, int headDim, int capacity, ScalarType dtype, Device device)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), "KV cache capacity must be positive");
        Capacity = capacity;
        // The cache outlives any forward: keep it out of whatever dispose scope is open.
        _buffer = empty([numLayers, 2, numKvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope();
        _keys = new Tensor[numLayers];
        _values = new Tensor[numLayers];
        for (int layer = 0; layer < numLayers; layer++)
        {
            _keys[layer] = _buffer[layer, 0].DetachFromDisposeScope();
            _values[layer] = _buffer[layer, 1].DetachFromDisposeScope();
        }
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
        using var k = _keys[layer].narrow(1, Length, n);
        using var v = _values[layer].narrow(1, Length, n);
        k.copy_(keys);
        v.copy_(values);
    }

    /// <summary>Views of keys and values [kvHeads, Length + numPending, headDim] of one layer.</summary>
    public (Tensor Keys, Tensor Values) Read(int layer, int numPending) =>
        (_keys[layer].narrow(1, 0, Length + numPending), _values[layer].narrow(1, 0, Length + numPending));

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

    public void Dispose()
    {
        foreach (var view in _keys.Concat(_values)) view.Dispose();
        _buffer.Dispose();
    }
}
