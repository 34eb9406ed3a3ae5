using Granary.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>Where the cxl tier's memory comes from: a DAX device or file path to map, or a NUMA node to bind to.</summary>
public sealed record CxlMemory(string? Path = null, int? NumaNode = null);

/// <summary>
/// Builds the KV tier of one model: a device store on the model's device, a host store (pinned when that
/// device is a GPU), and the cxl store the configuration names. Block shapes come from the model, so the
/// same code serves any device; a model whose caches cannot move positions (a sharded plan) still gets
/// program-level FCFS, only no reuse.
/// </summary>
public static class KvTierSetup
{
    public static KvTierManager For(ICausalLm model, KvReuseOptions options, TimeProvider clock, CxlMemory? cxl = null)
    {
        if (options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));
        var (device, dtype, numLayers) = model is CausalLm single
            ? (single.Device, single.DType, single.Network.Shard.NumLayers)
            : (CPU, ScalarType.Float32, model.Config.NumLayers);
        long[] blockShape = [numLayers, 2, model.Config.NumKvHeads, options.BlockSize, model.Config.HeadDim];
        var deviceStore = new TensorBlockStore(KvTier.Device, device, pinsMemory: false);
        var host = options.HostCapacityBlocks > 0 ? TensorBlockStore.HostFor(device) : null;
        IKvBlockStore? cxlStore = null;
        if (options.CxlCapacityBlocks > 0 && cxl is not null)
            cxlStore = cxl.NumaNode is { } node
                ? new NumaBlockStore(node, options.CxlCapacityBlocks, blockShape, dtype)
                : new MappedFileBlockStore(cxl.Path ?? throw new ArgumentException("the cxl tier needs a path or a NUMA node", nameof(cxl)), options.CxlCapacityBlocks, blockShape, dtype);
        return new KvTierManager(new PrefixCache(options, clock, device, deviceStore, host, cxlStore), clock);
    }
}
