using Granary.Model.Runtime;
using Granary.Model.Configuration;
using Granary.Model.Sharding;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// Grouped-query self-attention over a ragged batch. Projections run once over all T tokens of the batch;
/// attention runs per segment against that sequence's KV cache, so sequences at different positions and
/// of different lengths share one forward without padding. Single-token decode rows are the exception:
/// their per-segment overhead would dominate a small model's step, so they attend together over keys
/// gathered from the shared KV pool (see <see cref="DecodeBatch"/>).
/// Under tensor parallelism the layer holds its rank's query heads and the KV heads they read
/// (<see cref="TensorParallelLayout"/>): q/k/v are column slices, o_proj a row slice whose partial products
/// are all-reduced; the attention code itself only sees fewer heads. Under sequence parallelism attention
/// meets the stage's other sequence shards (<see cref="SequenceParallelAttention"/>).
/// </summary>
public sealed class LlamaAttention : nn.Module
{
    readonly LinearLayer _q, _k, _v;
    readonly RowParallelLinear _o;
    readonly int _layerIndex, _numHeads, _numKvHeads, _headDim;
    readonly int? _slidingWindow;
    readonly Scalar _scale; // 1/sqrt(head dim), held for every call (see Scalars)

    /// <param name="layerIndex">The layer's index in the shard's KV cache (0 for the shard's first layer).</param>
    public LlamaAttention(ModelConfig config, int layerIndex, ScalarType dtype, Device device, TensorParallelLayout? split = null, ITensorParallelGroup? group = null)
        : base(nameof(LlamaAttention))
    {
        split ??= TensorParallelLayout.For(config, 0, 1);
        _layerIndex = layerIndex;
        _numHeads = split.NumQueryHeads;
        _numKvHeads = split.NumKvHeads;
        _headDim = config.HeadDim;
        _slidingWindow = config.SlidingWindow;
        _scale = (1.0 / Math.Sqrt(config.HeadDim)).ToScalar();
        int dh = _headDim;
        _q = LinearLayer.ColumnParallel(config.HiddenSize, config.NumHeads * dh, split.QueryHeadStart * dh, _numHeads * dh, config.QkvBias, dtype, device);
        _k = LinearLayer.ColumnParallel(config.HiddenSize, config.NumKvHeads * dh, split.KvHeadStart * dh, _numKvHeads * dh, config.QkvBias, dtype, device);
        _v = LinearLayer.ColumnParallel(config.HiddenSize, config.NumKvHeads * dh, split.KvHeadStart * dh, _numKvHeads * dh, config.QkvBias, dtype, device);
        _o = new RowParallelLinear(config.NumHeads * dh, split.QueryHeadStart * dh, _numHeads * dh, config.HiddenSize, config.OutputBias,
            group ?? SingleRankGroup.Instance, dtype, device);
        register_module("q_proj", _q);
        register_module("k_proj", _k);
        register_module("v_proj", _v);
        register_module("o_proj", _o);
    }

    // x: [T, D] -> [T, D]
    public Tensor Forward(Tensor x, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        long numTokens = x.size(0);
        var q = _q.forward(x).view(numTokens, _numHeads, _headDim);   // [T, H, Dh]
        var k = _k.forward(x).view(numTokens, _numKvHeads, _headDim); // [T, Hkv, Dh]
        var v = _v.forward(x).view(numTokens, _numKvHeads, _headDim);
        // Scaling q once here instead of every segment's scores: exact for power-of-two head dims.
        q = RotaryEmbedding.Apply(q, context.Cos, context.Sin).mul_(_scale);
        k = RotaryEmbedding.Apply(k, context.Cos, context.Sin);

        if (context.SequenceParallel is { } sequenceParallel)
            return _o.forward(new SequenceParallelAttention(_layerIndex, _numHeads, _numKvHeads, _headDim, _slidingWindow)
                .Attend(context.Segments, sequenceParallel, q, k, v)).MoveToOuterDisposeScope();
        if (context.IsUniformCacheless)
            return _o.forward(AttendUniformBatch(context.Segments.Count, q, k, v)).MoveToOuterDisposeScope();
        if (context.DecodeBatch is { } decode && decode.NumRows == numTokens)
            return _o.forward(AttendDecodeBatch(decode, q, k, v)).MoveToOuterDisposeScope();
        return _o.forward(AttendSegments(context, q, k, v)).MoveToOuterDisposeScope();
    }

    // Segments one by one, except the decode rows, which attend together. q: [T, H, Dh] -> [T, H*Dh].
    Tensor AttendSegments(ForwardContext context, Tensor q, Tensor k, Tensor v)
    {
        var decode = context.DecodeBatch;
        var outputs = new List<Tensor>(context.Segments.Count);
        long offset = 0;
        for (int s = 0; s < context.Segments.Count; s++)
        {
            var segment = context.Segments[s];
            long n = segment.NumTokens;
            if (decode is null || !decode.IsBatched[s])
                outputs.Add(AttendSegment(context, s, q.narrow(0, offset, n), k.narrow(0, offset, n), v.narrow(0, offset, n)));
            offset += n;
        }
        if (decode is null) return outputs.Count == 1 ? outputs[0] : cat(outputs, dim: 0); // [T, H*Dh]

        // Mixed step: decode rows attend together, then every segment's rows go back to their place.
        var rows = decode.Rows;
        var decoded = AttendDecodeBatch(decode, q.index_select(0, rows), k.index_select(0, rows), v.index_select(0, rows));
        var attended = decoded.new_empty(q.size(0), _numHeads * _headDim);
        attended.index_copy_(0, rows, decoded);
        offset = 0;
        int next = 0;
        for (int s = 0; s < context.Segments.Count; s++)
        {
            long n = context.Segments[s].NumTokens;
            if (!decode.IsBatched[s]) attended.narrow(0, offset, n).copy_(outputs[next++]);
            offset += n;
        }
        return attended;
    }

    // B decode rows, one new token each, against their caches in one pool: the same math as AttendSegment
    // for n = 1, over keys gathered into [B, Hkv, L, Dh] with the padding masked.
    // q: [B, H, Dh] (already scaled), k/v: [B, Hkv, Dh] -> [B, H*Dh].
    Tensor AttendDecodeBatch(DecodeBatch decode, Tensor q, Tensor k, Tensor v)
    {
        int numRows = decode.NumRows, numKeys = decode.NumKeys, group = _numHeads / _numKvHeads;
        var stored = decode.Pool.Layer(_layerIndex);                                    // [2, Hkv, P, Dh]
        stored.index_copy_(2, decode.WriteSlots, stack([k, v]).transpose(1, 2));        // [2, Hkv, B, Dh]
        var gathered = stored.view(-1, _headDim).index_select(0, decode.GatherRows)     // [2*Hkv*B*L, Dh]
            .view(2, _numKvHeads, numRows, numKeys, _headDim)
            .transpose(1, 2);                                                           // [2, B, Hkv, L, Dh]
        var keys = gathered[0];
        var values = gathered[1];
        var queries = q.view(numRows, _numKvHeads, group, _headDim);                    // [B, Hkv, G, Dh]
        var scores = matmul(queries, keys.transpose(2, 3))                              // [B, Hkv, G, L]
            .masked_fill(decode.Padding, Scalars.NegativeInfinity);
        var probs = scores.dtype == ScalarType.Float32 ? scores.softmax(-1) : scores.softmax(-1, ScalarType.Float32).to(q.dtype);
        return matmul(probs, values).view(numRows, _numHeads * _headDim);               // [B, Hkv, G, Dh] -> [B, H*Dh]
    }

    // q: [n, H, Dh] (already scaled), k/v: [n, Hkv, Dh] -> [n, H*Dh].
    // NOTE: this runs once per sequence per layer, so it keeps its TorchSharp calls few: each costs
    // microseconds of overhead, which is the whole budget of a small decode step.
    Tensor AttendSegment(ForwardContext context, int segmentIndex, Tensor q, Tensor k, Tensor v)
    {
        var segment = context.Segments[segmentIndex];
        long n = q.size(0);
        var newKeys = k.transpose(0, 1);   // [Hkv, n, Dh]
        var newValues = v.transpose(0, 1);
        Tensor keys = newKeys, values = newValues;
        if (segment.Cache is { } cache)
        {
            cache.Write(_layerIndex, newKeys, newValues);
            (keys, values) = cache.Read(_layerIndex, segment.NumTokens); // [Hkv, L, Dh]
        }
        long numKeys = keys.size(1);
        int group = _numHeads / _numKvHeads;
        // Query heads j*G .. j*G+G-1 share KV head j: fold the group into the query rows instead of
        // repeating K/V. [n, H, Dh] -> [H, n, Dh] -> [Hkv, G*n, Dh] (a plain view when n = 1).
        var queries = n == 1 ? q.view(_numKvHeads, group, _headDim) : q.transpose(0, 1).reshape(_numKvHeads, group * n, _headDim);
        var scores = matmul(queries, keys.transpose(1, 2)); // [Hkv, G*n, L]
        if (NeedsMask(n, numKeys))
        {
            var hidden = context.HiddenKeys(segmentIndex, () => AllowedKeys(segment.StartPosition, n, numKeys, scores.device).logical_not()); // [n, L]
            scores = scores.view(_numKvHeads, group, n, numKeys)
                .masked_fill(hidden, Scalars.NegativeInfinity)
                .view(_numKvHeads, group * n, numKeys);
        }
        var probs = scores.dtype == ScalarType.Float32 ? scores.softmax(-1) : scores.softmax(-1, ScalarType.Float32).to(q.dtype);
        var attended = matmul(probs, values);               // [Hkv, G*n, Dh]
        return n == 1
            ? attended.view(1, _numHeads * _headDim)
            : attended.view(_numHeads, n, _headDim).transpose(0, 1).reshape(n, _numHeads * _headDim);
    }

    // B cacheless sequences of n tokens each, the same math as AttendSegment batched over sequences.
    // q: [B*n, H, Dh] (already scaled), k/v: [B*n, Hkv, Dh] -> [B*n, H*Dh].
    Tensor AttendUniformBatch(int numSequences, Tensor q, Tensor k, Tensor v)
    {
        long n = q.size(0) / numSequences;
        int group = _numHeads / _numKvHeads;
        var keys = k.view(numSequences, n, _numKvHeads, _headDim).permute(0, 2, 3, 1);   // [B, Hkv, Dh, n]
        var values = v.view(numSequences, n, _numKvHeads, _headDim).transpose(1, 2);     // [B, Hkv, n, Dh]
        var queries = q.view(numSequences, n, _numHeads, _headDim).transpose(1, 2)        // [B, H, n, Dh]
            .reshape(numSequences, _numKvHeads, group * n, _headDim);                     // [B, Hkv, G*n, Dh]
        var allowed = AllowedKeys(0, n, n, q.device);                                     // [n, n]
        var scores = matmul(queries, keys)                                                // [B, Hkv, G*n, n]
            .view(numSequences, _numKvHeads, group, n, n)
            .masked_fill(allowed.logical_not(), Scalars.NegativeInfinity)
            .view(numSequences, _numKvHeads, group * n, n);
        var probs = scores.dtype == ScalarType.Float32 ? scores.softmax(-1) : scores.softmax(-1, ScalarType.Float32).to(q.dtype);
        var attended = matmul(probs, values);                                             // [B, Hkv, G*n, Dh]
        return attended.view(numSequences, _numHeads, n, _headDim).transpose(1, 2).reshape(numSequences * n, _numHeads * _headDim);
    }

    bool NeedsMask(long numQueries, long numKeys) =>
        numQueries > 1 || (_slidingWindow is { } window && numKeys > window);

    // Query r sits at position start + r and may see key positions p with p <= start + r
    // (and p > start + r - window under a sliding window).
    Tensor AllowedKeys(int start, long numQueries, long numKeys, Device device)
    {
        using Scalar first = start, end = start + numQueries, keysEnd = numKeys; // held for the calls (see Scalars)
        var queryPositions = arange(first, end, int64, device).unsqueeze(1); // [n, 1]
        var keyPositions = arange(Scalars.Zero, keysEnd, int64, device).unsqueeze(0);  // [1, L]
        var allowed = keyPositions.le(queryPositions);
        if (_slidingWindow is { } window)
        {
            using Scalar span = window;
            allowed = allowed.logical_and(keyPositions.gt(queryPositions.sub(span)));
        }
        return allowed;
    }
}
