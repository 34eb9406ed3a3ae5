using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Grains.Sharding;

/// <summary>
/// A tensor on the wire between shards (hidden states between stages, partial sums between ranks): its
/// shape, dtype and raw little-endian bytes, with an Orleans-generated codec (no JSON, no base64).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TensorPayload(
    [property: Id(0)] long[] Shape,
    [property: Id(1)] ScalarType DType,
    [property: Id(2)] byte[] Data)
{
    public long NumBytes => Data.LongLength;

    /// <summary>Copies <paramref name="tensor"/> (any device) into a payload.</summary>
    public static TensorPayload From(Tensor tensor)
    {
        using var host = tensor.device_type == DeviceType.CPU ? tensor.contiguous() : tensor.cpu().contiguous();
        return new TensorPayload(host.shape, host.dtype, host.bytes.ToArray());
    }

    /// <summary>A new tensor on <paramref name="device"/> holding the payload.</summary>
    public Tensor ToTensor(Device device)
    {
        var host = empty(Shape, DType);
        host.bytes = Data;
        if (device.type == DeviceType.CPU) return host;
        using (host) return host.to(device);
    }
}
