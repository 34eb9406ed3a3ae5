using Granary.Engine.KvReuse;
using Granary.TestKit;
using static Granary.Engine.Tests.KvReuse.BlockCaches;

namespace Granary.Engine.Tests.KvReuse;

public sealed class TtlPinningTests
{
    readonly SimulatedClock _clock = new();

    static readonly int[] SystemPrompt = Tokens(0, 4);

    [Fact]
    public void A_pinned_program_keeps_its_blocks_and_the_shared_prefix_before_them_while_others_give_way()
    {
        using var cache = New(_clock, deviceBlocks: 8);
        Keep(cache, "t", [.. SystemPrompt, .. Tokens(100, 4)], program: "a");
        Keep(cache, "t", [.. SystemPrompt, .. Tokens(200, 4)], program: "b"); // the system prompt block now belongs to b
        cache.Pin("t", "a", _clock.GetUtcNow() + TimeSpan.FromSeconds(10));

        long freed = cache.FreeDeviceTokens(long.MaxValue, includePinned: false);
        Assert.Equal(BlockSize, freed); // only b's own block could go
        Assert.Equal(new[] { 0, 100 }, cache.BlocksOn(KvTier.Device).Select(b => b.TokenIds[0]).Order());
        Assert.All(cache.BlocksOn(KvTier.Device), b => Assert.True(b.IsPinned));
    }

    [Fact]
    public void When_the_ttl_runs_out_the_pin_ends_counted_once_and_its_blocks_move_to_host()
    {
        using var cache = New(_clock, deviceBlocks: 8, hostBlocks: 8);
        Keep(cache, "t", [.. SystemPrompt, .. Tokens(100, 4)], program: "a");
        cache.Pin("t", "a", _clock.GetUtcNow() + TimeSpan.FromSeconds(10));

        _clock.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(0, cache.ExpirePins());
        Assert.Equal(2, cache.NumBlocks(KvTier.Device));

        _clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(1, cache.ExpirePins());
        Assert.Equal(1, cache.NumExpiredPins);
        Assert.Equal(0, cache.NumBlocks(KvTier.Device));
        Assert.Equal(2, cache.NumBlocks(KvTier.Host));
        Assert.Equal(0, cache.ExpirePins());

        // The program comes back late: still a hit, from host, and no re-prefill of its 8 tokens.
        var matched = cache.Match("t", [.. SystemPrompt, .. Tokens(100, 4), 7], 8);
        Assert.Equal(2, matched.Count);
        Assert.All(matched, b => Assert.Equal(KvTier.Host, b.Tier));
    }

    [Fact]
    public void A_program_that_returns_in_time_unpins_and_nothing_expires()
    {
        using var cache = New(_clock, deviceBlocks: 8, hostBlocks: 8);
        Keep(cache, "t", [.. SystemPrompt, .. Tokens(100, 4)], program: "a");
        cache.Pin("t", "a", _clock.GetUtcNow() + TimeSpan.FromSeconds(10));
        _clock.Advance(TimeSpan.FromSeconds(3));
        cache.Unpin("t", "a");
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, cache.ExpirePins());
        Assert.Equal(0, cache.NumExpiredPins);
        Assert.Equal(2, cache.NumBlocks(KvTier.Device)); // unpinned blocks stay until pressure moves them
    }

    [Fact]
    public void Without_pinning_a_plain_lru_cache_ignores_pins()
    {
        using var cache = New(_clock, deviceBlocks: 8, isPinning: false);
        Keep(cache, "t", Tokens(0, 8), program: "a");
        cache.Pin("t", "a", _clock.GetUtcNow() + TimeSpan.FromSeconds(10));
        Assert.Equal(2 * BlockSize, cache.FreeDeviceTokens(long.MaxValue, includePinned: false));
    }
}
