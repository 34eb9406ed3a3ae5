using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// What every layer of one forward shares: the ragged batch layout, its rotary cos/sin, and the attention masks
/// of its multi-token segments (made by the first layer that needs one, disposed with the context).
/// </summary>
public sealed class ForwardContext(IReadOnlyList<BatchSegment> segments, Tensor cos, Tensor sin, int? slidingWindow = null, bool batchDecodeRows = true,
    Sharding.SequenceParallelStep? sequenceParallel = null) : IDisposable
{
    readonly Dictionary<int, Tensor> _hiddenKeys = [];

    /// <summary>Set on a sequence-parallel rank: attention then meets the other ranks' queries and keys.</summary>
    public Sharding.SequenceParallelStep? SequenceParallel { get; } = sequenceParallel;

    public IReadOnlyList<BatchSegment> Segments { get; } = segments;

    /// <summary>[T, 1, Dh] in the run dtype.</summary>
    public Tensor Cos { get; } = cos;

    /// <summary>The half-signed sin [-sin, sin] (<see cref="RotaryEmbedding.CosSin"/>), [T, 1, Dh] in the run dtype.</summary>
    public Tensor Sin { get; } = sin;

    /// <summary>
    /// Every segment is a whole cacheless sequence of one length (a training or scoring batch): attention can
    /// then run for all of them in one batched matmul instead of a loop over segments.
    /// </summary>
    public bool IsUniformCacheless { get; } =
        segments.Count > 1 && segments.All(s => s.Cache is null && s.NumTokens == segments[0].NumTokens);

    /// <summary>The single-token decode rows, attended together in every layer; null when there are none.</summary>
    public DecodeBatch? DecodeBatch { get; } = batchDecodeRows && sequenceParallel is null ? DecodeBatch.TryCreate(segments, slidingWindow) : null;

    /// <summary>
    /// Segment <paramref name="segment"/>'s mask [n, L] (true where a query may not see a key), the same in every
    /// layer: <paramref name="make"/> builds it once per forward (a verification or prompt chunk would otherwise
    /// rebuild it in every layer, a dozen small ops each).
    /// </summary>
    public Tensor HiddenKeys(int segment, Func<Tensor> make)
    {
        if (_hiddenKeys.TryGetValue(segment, out var mask)) return mask;
        return _hiddenKeys[segment] = make().DetachFromDisposeScope();
    }

    public void Dispose()
    {
        foreach (var mask in _hiddenKeys.Values) mask.Dispose();
        _hiddenKeys.Clear();
    }
}
