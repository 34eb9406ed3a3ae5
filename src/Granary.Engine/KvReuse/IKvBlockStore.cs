using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>
/// The memory of one tier: keeps copies of blocks' KV ([layers, 2, kvHeads, blockSize, headDim]) and gives
/// them back. Handles are opaque to the <see cref="PrefixCache"/>; the store alone knows what they point at.
/// </summary>
public interface IKvBlockStore : IDisposable
{
    KvTier Tier { get; }

    /// <summary>Bytes the stored blocks occupy.</summary>
    long NumBytes { get; }

    /// <summary>Copies <paramref name="kv"/> into the tier; the caller keeps ownership of <paramref name="kv"/>.</summary>
    object Store(Tensor kv);

    /// <summary>The block's KV on <paramref name="device"/>; the caller disposes what it gets (never the stored copy).</summary>
    Tensor Load(object handle, Device device);

    void Free(object handle);
}
