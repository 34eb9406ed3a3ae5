using Granary.Engine.KvReuse;
using Granary.TestKit;
using static Granary.Engine.Tests.KvReuse.BlockCaches;

namespace Granary.Engine.Tests.KvReuse;

public sealed class PrefixCacheTests
{
    readonly SimulatedClock _clock = new();

    [Fact]
    public void A_prompt_reuses_its_longest_run_of_whole_matching_blocks_and_the_restored_kv_is_the_stored_one()
    {
        using var cache = New(_clock, deviceBlocks: 8);
        int[] first = Tokens(10, 10); // 2 whole blocks + 2 tokens
        Keep(cache, "acme", first);
        Assert.Equal(2, cache.NumBlocks(KvTier.Device));

        int[] next = [.. first[..8], 99, 98, 97, 96, 95];
        var matched = cache.Match("acme", next, next.Length - 1);
        Assert.Equal([0, 1], matched.Select(b => b.Depth));
        Assert.Equal(13, cache.NumQueriedTokens);
        Assert.Equal(8, cache.NumHitTokens);

        using var restored = Empty(16);
        Assert.Equal(8, cache.Restore(matched, restored));
        Assert.Equal(first[..8], TokensIn(restored));
        Assert.Equal(2, cache.NumHits(KvTier.Device));
    }

    [Fact]
    public void A_block_matches_only_when_its_tokens_and_everything_before_it_match()
    {
        using var cache = New(_clock, deviceBlocks: 8);
        Keep(cache, "acme", Tokens(0, 12));
        int[] changedFirstBlock = [.. Tokens(0, 3), 50, .. Tokens(4, 8)];
        Assert.Empty(cache.Match("acme", changedFirstBlock, 12));
        int[] changedSecondBlock = [.. Tokens(0, 5), 50, .. Tokens(6, 6)];
        Assert.Single(cache.Match("acme", changedSecondBlock, 12));
        // The last prompt token is never reused: a prompt of exactly two blocks reuses one.
        Assert.Single(cache.Match("acme", Tokens(0, 8), 7));
    }

    [Fact]
    public void Tenants_never_share_blocks_even_for_identical_prompts()
    {
        using var cache = New(_clock, deviceBlocks: 8);
        Keep(cache, "acme", Tokens(0, 9));
        Assert.Empty(cache.Match("globex", Tokens(0, 9), 8));
        Assert.Empty(cache.Match(null, Tokens(0, 9), 8));
        Assert.Equal(2, cache.Match("acme", Tokens(0, 9), 8).Count);

        Keep(cache, "globex", Tokens(0, 9)); // its own copies, not a touch of acme's
        Assert.Equal(4, cache.NumBlocks(KvTier.Device));
    }

    [Fact]
    public void A_full_device_tier_drops_the_least_recently_used_blocks_later_blocks_of_a_prompt_first()
    {
        using var cache = New(_clock, deviceBlocks: 3);
        Keep(cache, "t", Tokens(0, 8));    // A0 A1
        Keep(cache, "t", Tokens(100, 4));  // B0
        Assert.Equal(3, cache.NumBlocks(KvTier.Device));

        Keep(cache, "t", Tokens(200, 4));  // C0: evicts A1 (A is older than B; A1 before A0)
        Assert.Equal(1, cache.NumDropped);
        Assert.Single(cache.Match("t", Tokens(0, 9), 8));

        Keep(cache, "t", Tokens(0, 4));    // touches A0: now B0 is the oldest
        Keep(cache, "t", Tokens(300, 4));  // D0 evicts B0
        Assert.Equal(2, cache.NumDropped);
        Assert.Empty(cache.Match("t", Tokens(100, 5), 4));
        Assert.Equal(new[] { 200, 0, 300 }, cache.BlocksOn(KvTier.Device).Select(b => b.TokenIds[0]));
    }

    [Fact]
    public void Pressure_demotes_device_to_host_to_cxl_before_dropping_and_reuse_promotes_back()
    {
        using var folder = new TempDirectory();
        using var cache = New(_clock, deviceBlocks: 1, hostBlocks: 1, cxlBlocks: 1, cxlPath: folder.Path);
        Keep(cache, "t", Tokens(0, 4));   // A
        Keep(cache, "t", Tokens(10, 4));  // B: A → host
        Keep(cache, "t", Tokens(20, 4));  // C: B → host, A → cxl
        Assert.Equal([1, 1, 1], KvTierNames.All.Select(cache.NumBlocks));
        Assert.Equal(20, cache.BlocksOn(KvTier.Device)[0].TokenIds[0]);
        Assert.Equal(10, cache.BlocksOn(KvTier.Host)[0].TokenIds[0]);
        Assert.Equal(0, cache.BlocksOn(KvTier.Cxl)[0].TokenIds[0]);
        Assert.True(cache.NumBytes(KvTier.Cxl) > 0);

        Keep(cache, "t", Tokens(30, 4));  // D: C → host, B → cxl, A dropped
        Assert.Equal(1, cache.NumDropped);

        var fromCxl = cache.Match("t", Tokens(10, 5), 4); // B, on cxl
        using var restored = Empty(8);
        cache.Restore(fromCxl, restored);
        Assert.Equal(Tokens(10, 4), TokensIn(restored));
        Assert.Equal(1, cache.NumHits(KvTier.Cxl));
        Assert.Equal(KvTier.Device, fromCxl[0].Tier); // promoted; D went down to host, C to cxl, B's slot freed
        Assert.Equal(30, cache.BlocksOn(KvTier.Host)[0].TokenIds[0]);
        Assert.Equal(20, cache.BlocksOn(KvTier.Cxl)[0].TokenIds[0]);
    }
}
