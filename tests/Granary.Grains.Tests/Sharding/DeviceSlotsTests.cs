using Granary.Engine.KvReuse;
using Granary.Grains.Sharding;

namespace Granary.Grains.Tests.Sharding;

/// <summary>A silo's slot bookkeeping: one shard per slot whoever placed it, reservations that lapse unclaimed, claims that hold.</summary>
public sealed class DeviceSlotsTests
{
    static readonly TimeSpan ClaimWithin = TimeSpan.FromSeconds(60);

    [Fact]
    public void A_full_silo_refuses_further_shards_until_one_is_released()
    {
        var slots = new DeviceSlots(2, new SimulatedClock());
        Assert.True(slots.TryReserve("a#g1#s0#r0#silo", ClaimWithin));
        Assert.True(slots.TryReserve("b#g7#s1#r0#silo", ClaimWithin)); // another deployment
        Assert.True(slots.TryReserve("a#g1#s0#r0#silo", ClaimWithin)); // the same shard again holds still one slot
        Assert.Equal(0, slots.NumFree);

        Assert.False(slots.TryReserve("c#g2#s0#r0#silo", ClaimWithin));
        Assert.False(slots.TryClaim("c#g2#s0#r0#silo"));

        slots.Release("a#g1#s0#r0#silo");
        Assert.Equal(1, slots.NumFree);
        Assert.True(slots.TryReserve("c#g2#s0#r0#silo", ClaimWithin));
        Assert.Equal(["b#g7#s1#r0#silo", "c#g2#s0#r0#silo"], slots.Holders);
    }

    [Fact]
    public void A_new_placement_frees_only_its_own_deployments_earlier_placements()
    {
        var slots = new DeviceSlots(4, new SimulatedClock());
        slots.TryClaim("a#g1#s0#r0#silo");             // placement 1 of a: loaded
        slots.TryReserve("a#g2#s1#r0#silo", ClaimWithin); // placement 2 of a: reserved, not loaded
        slots.TryClaim("ab#g1#s0#r0#silo");            // another deployment whose name starts alike
        slots.TryClaim("b#g1#s0#r0#silo");

        Assert.Equal(["a#g1#s0#r0#silo", "a#g2#s1#r0#silo"], slots.ReleaseOtherPlacements("a", generation: 3));
        Assert.Equal(["ab#g1#s0#r0#silo", "b#g1#s0#r0#silo"], slots.Holders);
        slots.TryReserve("a#g3#v0#silo", ClaimWithin);
        Assert.Empty(slots.ReleaseOtherPlacements("a", generation: 3)); // its own placement stays
        Assert.Equal(1, slots.NumFree);
    }

    [Fact]
    public void A_reservation_lapses_unless_its_shard_claims_it_in_time()
    {
        var clock = new SimulatedClock();
        var slots = new DeviceSlots(2, clock);
        slots.TryReserve("claimed", ClaimWithin);
        slots.TryReserve("abandoned", ClaimWithin); // the placing router died before the shard loaded
        Assert.True(slots.TryClaim("claimed"));

        clock.Advance(ClaimWithin);
        Assert.Equal(["claimed"], slots.Holders);
        clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(["claimed"], slots.Holders); // a claimed slot is held until released
    }

    [Fact]
    public void A_shard_whose_reservation_lapsed_claims_a_free_slot_if_there_is_one()
    {
        var clock = new SimulatedClock();
        var slots = new DeviceSlots(1, clock);
        slots.TryReserve("slow", ClaimWithin);
        clock.Advance(ClaimWithin);

        Assert.True(slots.TryClaim("slow"));
        Assert.False(slots.TryClaim("other"));
        Assert.Equal(0, slots.NumFree);
    }
}
