using Granary.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>Where the cxl tier's memory comes from: a DAX device or file path to map, or a NUMA node to bind to.</summary>
public sealed record CxlMemory(string? Path = null, int? NumaNode = null);

/// <summary>
/// Builds the KV tier of one model. A model on one device gets a device store on that device, a host store
/// (pinned when the device is a GPU) and the cxl store the configuration names; block shapes come from the
/// model, so the same code serves any device. A sharded model brings its own <paramref name="storage"/>
/// (each shard keeps its slice of every block); without one, a model whose caches cannot move positions
/// still gets program-level FCFS, only no reuse.
/// </summary>
public static class KvTierSetup
{
    public static KvTierManager For(ICausalLm model, KvReuseOptions options, TimeProvider clock, CxlMemory? cxl = null, IKvBlockStorage? storage = null)
    {
        if (options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));
        return new KvTierManager(new PrefixCache(options, clock, storage ?? LocalStorageFor(model, options, cxl)), clock);
    }

    static LocalKvBlockStorage LocalStorageFor(ICausalLm model, KvReuseOptions options, CxlMemory? cxl)
    {
        var (device, dtype, numLayers) = model is CausalLm single
            ? (single.Device, single.DType, single.Network.Shard.NumLayers)
            : (CPU, ScalarType.Float32, model.Config.NumLayers);
        long[] blockShape = [numLayers, 2, model.Config.NumKvHeads, options.BlockSize, model.Config.HeadDim];
        var deviceStore = new TensorBlockStore(KvTier.Device, device, pinsMemory: false);
        var host = options.HostCapacityBlocks > 0 ? TensorBlockStore.HostFor(device) : null;
        var cxlStore = options.CxlCapacityBlocks > 0 && cxl is not null ? CxlStoreFor(cxl, options.CxlCapacityBlocks, blockShape, dtype) : null;
        return new LocalKvBlockStorage(device, deviceStore, host, cxlStore);
    }

    /// <summary>A cxl store of <paramref name="capacityBlocks"/> blocks shaped <paramref name="blockShape"/>; <paramref name="offset"/>: where it starts in a shared file or device.</summary>
    public static SlottedBlockStore CxlStoreFor(CxlMemory cxl, int capacityBlocks, long[] blockShape, ScalarType dtype, long offset = 0) =>
        cxl.NumaNode is { } node
            ? new NumaBlockStore(node, capacityBlocks, blockShape, dtype)
            : new MappedFileBlockStore(cxl.Path ?? throw new ArgumentException("the cxl tier needs a path or a NUMA node", nameof(cxl)), capacityBlocks, blockShape, dtype, offset);
}
