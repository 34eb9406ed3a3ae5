using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>
/// A tier made of tensors on one torch device: the model's device (the device tier) or the CPU (the host
/// tier). Host copies of a GPU model's blocks are page-locked, so moving them back is a DMA copy; the code
/// never names a device kind beyond that choice.
/// </summary>
public sealed class TensorBlockStore(KvTier tier, Device device, bool pinsMemory) : IKvBlockStore
{
    readonly HashSet<Tensor> _blocks = [];

    public KvTier Tier { get; } = tier;

    public Device Device { get; } = device;

    public long NumBytes { get; private set; }

    /// <summary>The host tier for a model on <paramref name="modelDevice"/>: pinned memory when that device is not the CPU.</summary>
    public static TensorBlockStore HostFor(Device modelDevice) =>
        new(KvTier.Host, CPU, pinsMemory: modelDevice.type != TorchSharp.DeviceType.CPU);

    public object Store(Tensor kv)
    {
        var copy = kv.device == Device ? kv.clone() : kv.to(Device);
        if (pinsMemory)
        {
            var pinned = copy.pin_memory();
            copy.Dispose();
            copy = pinned;
        }
        _blocks.Add(copy);
        NumBytes += copy.NumberOfElements * copy.ElementSize;
        return copy;
    }

    public Tensor Load(object handle, Device device)
    {
        var stored = (Tensor)handle;
        return stored.device == device ? stored.alias() : stored.to(device, non_blocking: pinsMemory);
    }

    public void Free(object handle)
    {
        var stored = (Tensor)handle;
        if (!_blocks.Remove(stored)) return;
        NumBytes -= stored.NumberOfElements * stored.ElementSize;
        stored.Dispose();
    }

    public void Dispose()
    {
        foreach (var block in _blocks) block.Dispose();
        _blocks.Clear();
        NumBytes = 0;
    }
}
