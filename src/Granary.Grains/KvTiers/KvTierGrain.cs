using Granary.Engine.KvReuse;
using Granary.Grains.Sharding;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;
using Tier = Granary.Engine.KvReuse.KvTier;

namespace Granary.Grains.KvTiers;

/// <summary>
/// The host and cxl tiers of one silo's shards. A slice's cxl store is made on its first block (the block's
/// shape is the slice's: its layers, its heads) with the capacity the router's plan gives every shard. Where
/// the silo's cxl memory is a single file or DAX device, slices take consecutive ranges of it; a folder gives
/// each slice a file of its own; a NUMA node, a binding of its own. Calls run one at a time (not reentrant),
/// in the order each shard sends them.
/// </summary>
[SiloPinnedPlacement]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class KvTierGrain(KvTierSilo silo, ILogger<KvTierGrain> logger) : Grain, IKvTierGrain
{
    sealed class Slice(TensorBlockStore host)
    {
        public TensorBlockStore Host { get; } = host;
        public SlottedBlockStore? Cxl { get; set; }
        public Dictionary<long, (int Tier, object Handle)> Blocks { get; } = [];
    }

    readonly Dictionary<string, Slice> _slices = [];
    long _nextCxlOffset; // where the next slice starts in a shared cxl file or device

    public Task Store(string slice, long blockId, int tier, TensorPayload kv, int cxlCapacityBlocks)
    {
        var s = SliceOf(slice);
        if (s.Blocks.Remove(blockId, out var old)) StoreOf(s, old.Tier).Free(old.Handle);
        using var tensor = kv.ToTensor(CPU);
        s.Blocks[blockId] = (tier, StoreFor(s, slice, tier, tensor, cxlCapacityBlocks).Store(tensor));
        return Task.CompletedTask;
    }

    public Task Move(string slice, long blockId, int to, int cxlCapacityBlocks)
    {
        var s = SliceOf(slice);
        var (tier, handle) = BlockOf(s, slice, blockId);
        if (tier == to) return Task.CompletedTask;
        using var tensor = StoreOf(s, tier).Load(handle, CPU);
        var stored = StoreFor(s, slice, to, tensor, cxlCapacityBlocks).Store(tensor);
        StoreOf(s, tier).Free(handle);
        s.Blocks[blockId] = (to, stored);
        return Task.CompletedTask;
    }

    public Task<TensorPayload> Load(string slice, long blockId)
    {
        var s = SliceOf(slice);
        var (tier, handle) = BlockOf(s, slice, blockId);
        using var tensor = StoreOf(s, tier).Load(handle, CPU);
        return Task.FromResult(TensorPayload.From(tensor));
    }

    public Task Free(string slice, long blockId)
    {
        if (_slices.TryGetValue(slice, out var s) && s.Blocks.Remove(blockId, out var block)) StoreOf(s, block.Tier).Free(block.Handle);
        return Task.CompletedTask;
    }

    public Task FreeSlice(string slice)
    {
        if (_slices.Remove(slice, out var s)) Dispose(s);
        return Task.CompletedTask;
    }

    public Task<KvTierReport> Describe()
    {
        var blocks = _slices.Values.SelectMany(s => s.Blocks.Values).ToList();
        return Task.FromResult(new KvTierReport(ShardKey.SiloOf(this.GetPrimaryKeyString()).ToString(), silo.Cxl is not null,
            blocks.Count(b => b.Tier == (int)Tier.Host), _slices.Values.Sum(s => s.Host.NumBytes),
            blocks.Count(b => b.Tier == (int)Tier.Cxl), _slices.Values.Sum(s => s.Cxl?.NumBytes ?? 0), _slices.Count));
    }

    Slice SliceOf(string slice)
    {
        if (!_slices.TryGetValue(slice, out var s)) _slices[slice] = s = new Slice(new TensorBlockStore(Tier.Host, CPU, pinsMemory: false));
        return s;
    }

    (int Tier, object Handle) BlockOf(Slice s, string slice, long blockId) =>
        s.Blocks.TryGetValue(blockId, out var block) ? block
        : throw new InvalidOperationException($"silo {ShardKey.SiloOf(this.GetPrimaryKeyString())} holds no KV block {blockId} of shard {slice}");

    static IKvBlockStore StoreOf(Slice s, int tier) => tier switch
    {
        (int)Tier.Host => s.Host,
        (int)Tier.Cxl => s.Cxl ?? throw new InvalidOperationException("the slice has no cxl store"),
        _ => throw new ArgumentOutOfRangeException(nameof(tier), $"a silo's KV tier grain holds host (1) and cxl (2) blocks, not tier {tier}"),
    };

    IKvBlockStore StoreFor(Slice s, string slice, int tier, Tensor block, int cxlCapacityBlocks)
    {
        if (tier != (int)Tier.Cxl || s.Cxl is not null) return StoreOf(s, tier);
        var cxl = silo.Cxl ?? throw new InvalidOperationException(
            $"silo {ShardKey.SiloOf(this.GetPrimaryKeyString())} has no cxl memory (set Granary:KvTier:CxlPath or Granary:KvTier:CxlNumaNode on every silo)");
        bool sharesOneFile = cxl.Path is { } path && !Directory.Exists(path);
        s.Cxl = KvTierSetup.CxlStoreFor(cxl, cxlCapacityBlocks, block.shape, block.dtype, sharesOneFile ? _nextCxlOffset : 0);
        if (sharesOneFile) _nextCxlOffset += s.Cxl.NumBytesReserved;
        logger.LogInformation("KV tier: shard {Slice} keeps up to {Blocks} blocks ({Megabytes:F1} MB) in cxl memory", slice, cxlCapacityBlocks, s.Cxl.NumBytesReserved / 1e6);
        return s.Cxl;
    }

    static void Dispose(Slice s)
    {
        s.Host.Dispose();
        s.Cxl?.Dispose();
        s.Blocks.Clear();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        foreach (var s in _slices.Values) Dispose(s);
        _slices.Clear();
        return Task.CompletedTask;
    }
}
