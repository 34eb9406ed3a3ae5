using Granary.Grains.Sharding;
using Granary.Model.KvCache;
using static TorchSharp.torch;
using Tier = Granary.Engine.KvReuse.KvTier;

namespace Granary.Grains.KvTiers;

/// <summary>
/// A shard's slice of the KV tier: its device blocks (tensors on the shard's device) and the order of its calls
/// to the silo's <see cref="IKvTierGrain"/>. The shard applies each step's <see cref="KvBlockOp"/>s before the
/// step's compute. Demotions and frees of lower-tier blocks are sent without waiting (one chain, so the tier
/// grain sees them in order) and the forward goes on; only a restore from a lower tier waits, for the chain
/// and then for the block, unless a prefetch (sent while its request waited) has brought it already.
/// </summary>
public sealed class ShardKvBlocks(string slice, IKvTierGrain tier, Device device) : IDisposable
{
    readonly Dictionary<long, Tensor> _device = [];
    readonly Dictionary<long, Tensor> _prefetched = []; // lower-tier blocks loaded ahead of their restore
    Task _chain = Task.CompletedTask;
    Exception? _fault;

    public int NumDeviceBlocks => _device.Count;

    public int NumPrefetched => _prefetched.Count;

    /// <summary>Applies <paramref name="ops"/> in order; <paramref name="cacheFor"/> gives a sequence's cache (made with the capacity if new).</summary>
    public async Task Apply(IReadOnlyList<KvBlockOp> ops, Func<long, int, SequenceKvCache> cacheFor)
    {
        foreach (var op in ops)
            switch (op.Kind)
            {
                case KvBlockOpKind.Save:
                    var kv = cacheFor(op.SequenceId, op.Capacity).ExportPositions(op.Start, op.Count);
                    if (op.Tier == (int)Tier.Device) Keep(op.BlockId, kv);
                    else SendDown(op.BlockId, op.Tier, kv, op.CxlCapacityBlocks);
                    break;
                case KvBlockOpKind.Restore:
                    var cache = cacheFor(op.SequenceId, op.Capacity);
                    if (op.Tier == (int)Tier.Device)
                        cache.ImportPositions(DeviceBlock(op.BlockId));
                    else
                    {
                        await _chain;
                        ThrowIfFaulted();
                        if (!_prefetched.Remove(op.BlockId, out var restored)) restored = (await tier.Load(slice, op.BlockId)).ToTensor(device);
                        using (restored) cache.ImportPositions(restored);
                    }
                    break;
                case KvBlockOpKind.Prefetch:
                    long prefetching = op.BlockId;
                    Chain(async () =>
                    {
                        // Bounded: a waiting request may be cancelled and never use its copies.
                        if (_prefetched.Count >= Granary.Engine.KvReuse.LocalKvBlockStorage.MaxPrefetchedBlocks || _prefetched.ContainsKey(prefetching)) return;
                        _prefetched[prefetching] = (await tier.Load(slice, prefetching)).ToTensor(device);
                    });
                    break;
                case KvBlockOpKind.Move when op.Tier == (int)Tier.Device:
                    _device.Remove(op.BlockId, out var moving);
                    SendDown(op.BlockId, op.To, moving ?? throw Missing(op.BlockId), op.CxlCapacityBlocks);
                    break;
                case KvBlockOpKind.Move:
                    Chain(() => tier.Move(slice, op.BlockId, op.To, op.CxlCapacityBlocks));
                    break;
                case KvBlockOpKind.Free when op.Tier == (int)Tier.Device:
                    if (_device.Remove(op.BlockId, out var freed)) freed.Dispose();
                    break;
                case KvBlockOpKind.Free:
                    long freeing = op.BlockId;
                    Chain(() =>
                    {
                        // On the chain: a prefetch of this block still in flight lands before it.
                        if (_prefetched.Remove(freeing, out var stale)) stale.Dispose();
                        return tier.Free(slice, freeing);
                    });
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(ops), $"unknown KV block operation {op.Kind}");
            }
    }

    void Keep(long blockId, Tensor kv)
    {
        if (_device.Remove(blockId, out var old)) old.Dispose();
        _device[blockId] = kv;
    }

    Tensor DeviceBlock(long blockId) => _device.TryGetValue(blockId, out var kv) ? kv : throw Missing(blockId);

    // The payload is made now (the tensor is this shard's); the call waits its turn on the chain.
    void SendDown(long blockId, int to, Tensor kv, int cxlCapacityBlocks)
    {
        TensorPayload payload;
        using (kv) payload = TensorPayload.From(kv);
        Chain(() => tier.Store(slice, blockId, to, payload, cxlCapacityBlocks));
    }

    void Chain(Func<Task> call) => _chain = After(_chain, call);

    async Task After(Task previous, Func<Task> call)
    {
        await previous;
        try
        {
            await call();
        }
        catch (Exception e)
        {
            _fault ??= e;
        }
    }

    void ThrowIfFaulted()
    {
        if (_fault is { } fault) throw new InvalidOperationException($"shard {slice}: moving a KV block to the silo's tier failed: {fault.Message}", fault);
    }

    InvalidOperationException Missing(long blockId) => new($"shard {slice} holds no device KV block {blockId}");

    /// <summary>Waits for the calls in flight (the shard is going away), then forgets the slice on the tier grain.</summary>
    public async Task ReleaseAsync()
    {
        await _chain;
        await tier.FreeSlice(slice);
    }

    public void Dispose()
    {
        foreach (var kv in _device.Values.Concat(_prefetched.Values)) kv.Dispose();
        _device.Clear();
        _prefetched.Clear();
    }
}
