using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>What every layer of one forward shares: the ragged batch layout and its rotary cos/sin.</summary>
public sealed class ForwardContext(IReadOnlyList<BatchSegment> segments, Tensor cos, Tensor sin)
{
    public IReadOnlyList<BatchSegment> Segments { get; } = segments;

    /// <summary>[T, 1, Dh] in the run dtype.</summary>
    public Tensor Cos { get; } = cos;

    public Tensor Sin { get; } = sin;
}
