using Granary.Engine.KvReuse;
using Granary.Model.KvCache;
using Granary.TestKit;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.KvReuse;

/// <summary>Prefix caches over tiny KV (1 layer, 1 head, head dim 2) whose values encode the token, so a restore shows what it copied.</summary>
static class BlockCaches
{
    public const int BlockSize = 4;

    public static PrefixCache New(TimeProvider clock, int deviceBlocks, int hostBlocks = 0, int cxlBlocks = 0, string? cxlPath = null, bool isPinning = true)
    {
        var options = new KvReuseOptions
        {
            BlockSize = BlockSize, DeviceCapacityBlocks = deviceBlocks, HostCapacityBlocks = hostBlocks, CxlCapacityBlocks = cxlBlocks,
            IsPinning = isPinning, DefaultToolTtl = TimeSpan.FromSeconds(10),
        };
        var device = new TensorBlockStore(KvTier.Device, CPU, pinsMemory: false);
        var host = hostBlocks > 0 ? TensorBlockStore.HostFor(CPU) : null;
        var cxl = cxlPath is not null ? new MappedFileBlockStore(cxlPath, cxlBlocks, [1, 2, 1, BlockSize, 2], ScalarType.Float32) : null;
        return new PrefixCache(options, clock, CPU, device, host, cxl);
    }

    /// <summary>A cache holding KV for <paramref name="tokens"/>: position p's keys and values are (token, p).</summary>
    public static SequenceKvCache Filled(int[] tokens)
    {
        var cache = new SequenceKvCache(1, 1, 2, tokens.Length + 8, ScalarType.Float32, CPU);
        using var kv = zeros([1, 2, 1, tokens.Length, 2]);
        for (int p = 0; p < tokens.Length; p++)
        {
            kv[0, .., 0, p, 0] = tensor((float)tokens[p]);
            kv[0, .., 0, p, 1] = tensor((float)p);
        }
        cache.ImportPositions(kv);
        return cache;
    }

    public static SequenceKvCache Empty(int capacity) => new(1, 1, 2, capacity, ScalarType.Float32, CPU);

    /// <summary>The tokens a cache's keys encode (see <see cref="Filled"/>).</summary>
    public static int[] TokensIn(SequenceKvCache cache)
    {
        using var kv = cache.ExportPositions(0, cache.Length);
        return Enumerable.Range(0, cache.Length).Select(p => (int)kv[0, 0, 0, p, 0].item<float>()).ToArray();
    }

    public static int[] Tokens(int first, int count) => Enumerable.Range(first, count).ToArray();

    public static void Keep(PrefixCache prefixCache, string? tenant, int[] tokens, string? program = null)
    {
        using var cache = Filled(tokens);
        prefixCache.Insert(tenant, program, tokens, cache);
    }
}
