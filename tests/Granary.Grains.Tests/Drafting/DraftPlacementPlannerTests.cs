using Granary.Grains.Drafting;

namespace Granary.Grains.Tests.Drafting;

public sealed class DraftPlacementPlannerTests
{
    [Fact]
    public void A_free_slot_on_the_routers_silo_comes_first() =>
        Assert.Equal(new DraftPlacement(1, HasOwnSlot: true), DraftPlacementPlanner.Place([2, 2, 3], [1, 1, 0], routerSilo: 1));

    [Fact]
    public void Otherwise_the_silo_with_most_free_slots() =>
        Assert.Equal(new DraftPlacement(2, HasOwnSlot: true), DraftPlacementPlanner.Place([1, 1, 3, 2], [1, 1, 1, 0], routerSilo: 0));

    [Fact]
    public void With_no_free_slot_it_shares_the_routers_silo() =>
        Assert.Equal(new DraftPlacement(1, HasOwnSlot: false), DraftPlacementPlanner.Place([1, 2, 1], [1, 2, 1], routerSilo: 1));

    [Fact]
    public void With_no_free_slot_and_the_router_elsewhere_it_shares_the_silo_with_fewest_shards() =>
        Assert.Equal(new DraftPlacement(2, HasOwnSlot: false), DraftPlacementPlanner.Place([2, 2, 1], [2, 2, 1], routerSilo: null));

    [Fact]
    public void Mismatched_inputs_are_refused() =>
        Assert.Throws<ArgumentException>(() => DraftPlacementPlanner.Place([1, 1], [1], routerSilo: 0));
}
