using System.Diagnostics;
using Granary.Model.KvCache;
using static TorchSharp.torch;

namespace Granary.Engine.KvReuse;

/// <summary>
/// The blocks of KV kept between requests, by chained hash (<see cref="BlockHash"/>), over up to three tiers.
/// A request reuses the longest run of blocks whose hashes <em>and</em> tokens match its prompt, within its
/// own tenant. When a tier is full its lowest-value block moves one tier down (device → host → cxl) or is
/// dropped from the last: unpinned before pinned, least recently used first, and on a tie the later block of
/// a prompt first (a block without its predecessor could never match). Pins hold a program's blocks on the
/// device until their TTL runs out; then they demote like any other. Single-threaded: the engine's thread owns it.
/// NOTE: the device tier holds copies, and a reused prefix is copied into the request's own cache, because a
/// sequence's KV is one contiguous range of the pool (no block tables in the attention kernels).
/// </summary>
public sealed class PrefixCache : IDisposable
{
    readonly KvReuseOptions _options;
    readonly TimeProvider _clock;
    readonly IKvBlockStorage _storage;
    readonly Dictionary<ulong, KvBlock> _blocks = [];
    readonly int[] _capacities = new int[3];
    readonly int[] _numBlocks = new int[3];
    readonly long[] _numHits = new long[3];
    readonly Dictionary<(string? Tenant, string Program), DateTimeOffset> _pins = [];
    long _tick;
    long _nextBlockId;

    public PrefixCache(KvReuseOptions options, TimeProvider clock, IKvBlockStorage storage)
    {
        if (options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));
        _options = options;
        _clock = clock;
        _storage = storage;
        _capacities[0] = options.DeviceCapacityBlocks;
        _capacities[1] = storage.HasTier(KvTier.Host) ? options.HostCapacityBlocks : 0;
        _capacities[2] = storage.HasTier(KvTier.Cxl) ? options.CxlCapacityBlocks : 0;
        KvTierMetrics.Track(this);
    }

    /// <summary>A cache over stores on one device.</summary>
    public PrefixCache(KvReuseOptions options, TimeProvider clock, Device modelDevice, IKvBlockStore device, IKvBlockStore? host = null, IKvBlockStore? cxl = null)
        : this(options, clock, new LocalKvBlockStorage(modelDevice, device, host, cxl))
    {
    }

    /// <summary>Where the blocks' KV is kept.</summary>
    public IKvBlockStorage Storage => _storage;

    public int BlockSize => _options.BlockSize;

    public KvReuseOptions Options => _options;

    public int NumBlocks(KvTier tier) => _numBlocks[(int)tier];

    public long NumBytes(KvTier tier) => _storage.NumBytes(tier);

    /// <summary>Blocks reused from <paramref name="tier"/> (counted where they were when the request came).</summary>
    public long NumHits(KvTier tier) => _numHits[(int)tier];

    /// <summary>Prompt tokens looked up, and those found (vLLM's prefix_cache_queries / prefix_cache_hits).</summary>
    public long NumQueriedTokens { get; private set; }

    public long NumHitTokens { get; private set; }

    /// <summary>Blocks that left the last tier they could go to.</summary>
    public long NumDropped { get; private set; }

    /// <summary>Pins whose TTL ran out before their program came back.</summary>
    public long NumExpiredPins { get; private set; }

    /// <summary>Device positions the tier's blocks take (they share the scheduler's KV budget).</summary>
    public long NumDeviceTokens => (long)_numBlocks[0] * BlockSize;

    /// <summary>The blocks on a tier, least valuable (next to leave) first.</summary>
    public IReadOnlyList<KvBlock> BlocksOn(KvTier tier) =>
        _blocks.Values.Where(b => b.Tier == tier).OrderBy(b => b.IsPinned).ThenBy(b => b.LastUsed).ThenByDescending(b => b.Depth).ToList();

    /// <summary>
    /// The longest run of cached blocks that starts <paramref name="tokenIds"/> and covers at most
    /// <paramref name="maxTokens"/> tokens (NOTE: callers leave at least one prompt token out, whose forward gives the logits).
    /// </summary>
    public IReadOnlyList<KvBlock> Match(string? tenant, IReadOnlyList<int> tokenIds, int maxTokens)
    {
        var matched = Walk(tenant, tokenIds, maxTokens);
        NumQueriedTokens += tokenIds.Count;
        NumHitTokens += matched.Count * BlockSize;
        KvTierMetrics.RecordQuery(tokenIds.Count, matched.Count * BlockSize);
        return matched;
    }

    /// <summary>
    /// For a request that has to wait: starts loading the lower-tier blocks its prompt would reuse onto the
    /// device (<see cref="IKvBlockStorage.Prefetch"/>), so that its restore does not wait for host or cxl memory.
    /// Counts nothing and moves nothing. Returns the blocks asked for.
    /// </summary>
    public int Prefetch(string? tenant, IReadOnlyList<int> tokenIds, int maxTokens)
    {
        int asked = 0;
        foreach (var block in Walk(tenant, tokenIds, maxTokens))
            if (block.Tier != KvTier.Device)
            {
                _storage.Prefetch(block.Id, block.Tier);
                asked++;
            }
        return asked;
    }

    // The cached blocks that start the prompt, while hash and tokens both match.
    List<KvBlock> Walk(string? tenant, IReadOnlyList<int> tokenIds, int maxTokens)
    {
        var matched = new List<KvBlock>();
        ulong hash = BlockHash.Root(tenant);
        var tokens = tokenIds as int[] ?? tokenIds.ToArray();
        for (int start = 0; start + BlockSize <= Math.Min(maxTokens, tokens.Length); start += BlockSize)
        {
            var span = tokens.AsSpan(start, BlockSize);
            hash = BlockHash.Chain(hash, span);
            if (!_blocks.TryGetValue(hash, out var block) || block.Tenant != tenant || !block.TokenIds.AsSpan().SequenceEqual(span)) break;
            matched.Add(block);
        }
        return matched;
    }

    /// <summary>
    /// Copies the matched blocks into <paramref name="cache"/> (which must be empty) in order, then brings
    /// blocks from lower tiers back to the device when it has room. Returns the positions restored.
    /// </summary>
    public int Restore(IReadOnlyList<KvBlock> matched, IKvCache cache)
    {
        if (cache.Length != 0) throw new InvalidOperationException("a prefix is restored into an empty cache only");
        long tick = ++_tick;
        foreach (var block in matched) block.LastUsed = tick;
        var seconds = new double[3];
        var numBlocks = new int[3];
        foreach (var block in matched)
        {
            int tier = (int)block.Tier;
            long startedAt = Stopwatch.GetTimestamp();
            _storage.Restore(block.Id, block.Tier, cache);
            seconds[tier] += Stopwatch.GetElapsedTime(startedAt).TotalSeconds;
            numBlocks[tier]++;
        }
        foreach (var tier in KvTierNames.All.Where(t => numBlocks[(int)t] > 0))
        {
            _numHits[(int)tier] += numBlocks[(int)tier];
            KvTierMetrics.RecordRestore(tier, numBlocks[(int)tier], seconds[(int)tier]);
        }
        for (int i = 0; i < matched.Count; i++)
            if (matched[i].Tier != KvTier.Device) Promote(matched[i], cache, i * BlockSize, tick);
        return matched.Count * BlockSize;
    }

    // The block leaves its tier first, so that the blocks the device pushes down can take its place there; its
    // KV comes back from the request's cache, where the restore just put it.
    void Promote(KvBlock block, IKvCache cache, int start, long protectTick)
    {
        var from = block.Tier;
        _storage.Free(block.Id, from);
        _numBlocks[(int)from]--;
        var to = MakeRoom(KvTier.Device, protectTick) ? KvTier.Device : from;
        if (to == from && !MakeRoom(from, protectTick))
        {
            _numBlocks[(int)from]++;
            DropWithoutStore(block);
            return;
        }
        block.Id = ++_nextBlockId; // a new id: the freed copy may still be on its way out
        _storage.Save(block.Id, cache, start, BlockSize, to);
        block.Tier = to;
        _numBlocks[(int)to]++;
    }

    /// <summary>
    /// Keeps the whole blocks of <paramref name="tokenIds"/> whose KV <paramref name="cache"/> holds: blocks
    /// already cached are touched, new ones copied to the device tier (making room as needed). Returns the
    /// number of blocks it copied.
    /// </summary>
    public int Insert(string? tenant, string? program, IReadOnlyList<int> tokenIds, IKvCache cache)
    {
        long tick = ++_tick;
        int numCopied = 0;
        bool programChanged = false;
        ulong hash = BlockHash.Root(tenant);
        KvBlock? parent = null;
        var tokens = tokenIds as int[] ?? tokenIds.ToArray();
        for (int start = 0; start + BlockSize <= Math.Min(cache.Length, tokens.Length); start += BlockSize)
        {
            var span = tokens.AsSpan(start, BlockSize);
            hash = BlockHash.Chain(hash, span);
            if (_blocks.TryGetValue(hash, out var block))
            {
                if (block.Tenant != tenant || !block.TokenIds.AsSpan().SequenceEqual(span)) break; // a collision: keep the first
                block.LastUsed = tick;
                if (program is not null && block.Program != program)
                {
                    block.Program = program;
                    programChanged = true;
                }
                parent = block;
                continue;
            }
            if (!MakeRoom(KvTier.Device, tick)) break;
            block = new KvBlock(tenant, hash, parent, span.ToArray()) { Tier = KvTier.Device, LastUsed = tick, Program = program, Id = ++_nextBlockId };
            _storage.Save(block.Id, cache, start, BlockSize, KvTier.Device);
            parent?.Children.Add(block);
            _blocks[hash] = block;
            _numBlocks[0]++;
            parent = block;
            numCopied++;
        }
        // Every change that can move a pin applies the pins at once, so ExpirePins has nothing to redo unless one ended.
        if ((numCopied > 0 || programChanged) && _pins.Count > 0) ApplyPins();
        return numCopied;
    }

    /// <summary>Pins the program's blocks on the device until <paramref name="until"/> (a later pin replaces an earlier one).</summary>
    public void Pin(string? tenant, string program, DateTimeOffset until)
    {
        if (!_options.IsPinning) return;
        _pins[(tenant, program)] = until;
        ApplyPins();
    }

    /// <summary>The program came back: its pin has served its purpose.</summary>
    public void Unpin(string? tenant, string program)
    {
        if (_pins.Remove((tenant, program))) ApplyPins();
    }

    // A pin holds the program's blocks and every block before them (a shared system prompt last touched by
    // another program included): a pinned block must never lose its predecessor, or it could not match.
    void ApplyPins()
    {
        foreach (var block in _blocks.Values) block.PinnedUntil = null;
        foreach (var block in _blocks.Values)
        {
            if (block.Program is null || !_pins.TryGetValue((block.Tenant, block.Program), out var until)) continue;
            for (var b = block; b is not null; b = b.Parent)
                if (b.PinnedUntil is null || b.PinnedUntil < until) b.PinnedUntil = until;
        }
    }

    /// <summary>Ends the pins whose TTL has run out; their device blocks move to the host tier (when there is one). Returns how many pins ended.</summary>
    public int ExpirePins()
    {
        if (_pins.Count == 0) return 0;
        var now = _clock.GetUtcNow();
        var expired = _pins.Where(p => p.Value <= now).Select(p => p.Key).ToList();
        if (expired.Count == 0) return 0; // runs before every step: no scan of the blocks unless a pin ended
        foreach (var key in expired) _pins.Remove(key);
        var wasPinned = _blocks.Values.Where(b => b.IsPinned).ToList();
        ApplyPins();
        if (_capacities[1] > 0)
            foreach (var block in wasPinned.Where(b => !b.IsPinned && b.Tier == KvTier.Device).OrderByDescending(b => b.Depth))
                if (_blocks.ContainsKey(block.Hash) && block.Tier == KvTier.Device) Demote(block, protectTick: -1);
        NumExpiredPins += expired.Count;
        KvTierMetrics.RecordExpired(expired.Count);
        return expired.Count;
    }

    /// <summary>
    /// Moves device blocks down (or drops them) until <paramref name="numTokens"/> positions are free, least
    /// valuable first; pinned blocks only when <paramref name="includePinned"/>. Returns the positions freed.
    /// </summary>
    public long FreeDeviceTokens(long numTokens, bool includePinned)
    {
        long freed = 0;
        while (freed < numTokens && Victim(KvTier.Device, protectTick: -1, includePinned) is { } victim)
        {
            Demote(victim, protectTick: -1);
            freed += BlockSize;
        }
        return freed;
    }

    bool MakeRoom(KvTier tier, long protectTick)
    {
        int t = (int)tier;
        if (_capacities[t] == 0) return false;
        while (_numBlocks[t] >= _capacities[t])
        {
            if (Victim(tier, protectTick, includePinned: false) is not { } victim) return false;
            Demote(victim, protectTick);
        }
        return true;
    }

    KvBlock? Victim(KvTier tier, long protectTick, bool includePinned) =>
        _blocks.Values
            .Where(b => b.Tier == tier && b.LastUsed != protectTick && (includePinned || !b.IsPinned))
            .OrderBy(b => b.IsPinned).ThenBy(b => b.LastUsed).ThenByDescending(b => b.Depth)
            .FirstOrDefault();

    void Demote(KvBlock block, long protectTick)
    {
        for (int next = (int)block.Tier + 1; next < 3; next++)
            if (MakeRoom((KvTier)next, protectTick))
            {
                Move(block, (KvTier)next);
                return;
            }
        Drop(block);
    }

    void Move(KvBlock block, KvTier to)
    {
        _storage.Move(block.Id, block.Tier, to);
        _numBlocks[(int)block.Tier]--;
        _numBlocks[(int)to]++;
        block.Tier = to;
    }

    void Drop(KvBlock block)
    {
        _storage.Free(block.Id, block.Tier);
        DropWithoutStore(block);
    }

    void DropWithoutStore(KvBlock block)
    {
        foreach (var child in block.Children.ToList()) Drop(child);
        _blocks.Remove(block.Hash);
        block.Parent?.Children.Remove(block);
        _numBlocks[(int)block.Tier]--;
        NumDropped++;
    }

    public void Dispose()
    {
        KvTierMetrics.Untrack(this);
        _storage.Dispose();
        _blocks.Clear();
        Array.Clear(_numBlocks);
    }
}
