namespace Granary.Grains.Drafting;

/// <summary>Where a deployment's draft grain goes: a silo, and whether it has a device slot of its own there.</summary>
public sealed record DraftPlacement(int Silo, bool HasOwnSlot);

/// <summary>
/// Places a draft after the target's shards. A free device slot wins (the draft then competes with no shard):
/// the router's silo when it has one (proposals reach the router without crossing the network), else the
/// silo with most free slots. With none free the draft shares a slot: the router's silo when it holds a
/// shard (or the whole model), else the silo with the fewest shards. Deterministic for a given silo list.
/// </summary>
public static class DraftPlacementPlanner
{
    /// <param name="slotsPerSilo">Device slots each silo offers.</param>
    /// <param name="shardsPerSilo">Target shards placed on each silo (all zero when the router holds the whole model).</param>
    /// <param name="routerSilo">Index of the router's silo, if it is one of them.</param>
    public static DraftPlacement Place(IReadOnlyList<int> slotsPerSilo, IReadOnlyList<int> shardsPerSilo, int? routerSilo)
    {
        if (slotsPerSilo.Count == 0) throw new ArgumentException("a draft needs at least one silo", nameof(slotsPerSilo));
        if (shardsPerSilo.Count != slotsPerSilo.Count) throw new ArgumentException("one shard count per silo", nameof(shardsPerSilo));
        int router = routerSilo is { } r && r >= 0 && r < slotsPerSilo.Count ? r : -1;
        var free = slotsPerSilo.Select((slots, s) => slots - shardsPerSilo[s]).ToArray();
        if (router >= 0 && free[router] > 0) return new DraftPlacement(router, HasOwnSlot: true);
        int mostFree = Enumerable.Range(0, free.Length).OrderByDescending(s => free[s]).ThenBy(s => s).First();
        if (free[mostFree] > 0) return new DraftPlacement(mostFree, HasOwnSlot: true);
        if (router >= 0) return new DraftPlacement(router, HasOwnSlot: false);
        int fewestShards = Enumerable.Range(0, shardsPerSilo.Count).OrderBy(s => shardsPerSilo[s]).ThenBy(s => s).First();
        return new DraftPlacement(fewestShards, HasOwnSlot: false);
    }
}
