using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Grains.Sharding;

namespace Granary.Grains.Tests.Sharding;

public sealed class ShardPlacementPlannerTests
{
    [Fact]
    public void Stages_go_to_different_silos_and_never_share_a_slot()
    {
        var placement = ShardPlacementPlanner.Place(new ParallelPlan(3, 1), [1, 1, 1]);
        Assert.Equal([0, 1, 2], placement.Select(ranks => ranks.Single()).Order());
    }

    [Fact]
    public void A_stages_ranks_stay_in_one_silo_that_has_slots_for_all_of_them()
    {
        var placement = ShardPlacementPlanner.Place(new ParallelPlan(2, 2), [1, 2, 2]);
        Assert.All(placement, ranks => Assert.Single(ranks.Distinct()));
        Assert.NotEqual(placement[0][0], placement[1][0]);
        Assert.DoesNotContain(0, placement.SelectMany(r => r)); // the one-slot silo cannot take a whole stage
    }

    [Fact]
    public void Ranks_spread_over_silos_when_no_silo_can_take_the_stage()
    {
        var placement = ShardPlacementPlanner.Place(new ParallelPlan(1, 4), [1, 1, 2]);
        var counts = placement[0].GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<int, int> { [0] = 1, [1] = 1, [2] = 2 }, counts);
    }

    [Fact]
    public void The_last_stage_sits_with_the_router_when_it_has_room()
    {
        var placement = ShardPlacementPlanner.Place(new ParallelPlan(3, 1), [1, 1, 1], routerSilo: 1);
        Assert.Equal(1, placement[2][0]);
        Assert.Equal([0, 1, 2], placement.Select(r => r[0]).Order());
    }

    [Fact]
    public void Too_few_slots_is_a_user_error_naming_the_plan_and_the_count()
    {
        var error = Assert.Throws<GranaryUserError>(() => ShardPlacementPlanner.Place(new ParallelPlan(2, 2), [1, 2]));
        Assert.Contains("plan pp=2,tp=2 needs 4 device slots but the cluster has 3", error.Message);
    }
}
