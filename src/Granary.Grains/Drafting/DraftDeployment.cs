using Granary.Grains.Deployments;
using Granary.Grains.Sharding;

namespace Granary.Grains.Drafting;

/// <summary>
/// Brings a deployment's draft up on a draft grain: asks the active silos for their device slots, places the
/// draft after the target's shards (<see cref="DraftPlacementPlanner"/>), has the grain load it, and returns
/// the drafter the router's engine uses. <paramref name="generation"/> is the target's placement generation,
/// so a re-placement gets a fresh draft grain too.
/// </summary>
public static class DraftDeployment
{
    /// <param name="shards">The target's shards (empty when the router holds the whole model: its silo then counts as holding one).</param>
    public static async Task<GrainDrafter> LoadAsync(DeploymentOptions deployment, IGrainFactory grains, int generation,
        IReadOnlyList<ShardReport> shards, SiloAddress routerSilo)
    {
        string directory = deployment.DraftDirectory ?? throw new ArgumentException("the deployment has no draft", nameof(deployment));
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        var silos = hosts.Keys.OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToList();
        var slots = await Task.WhenAll(silos.Select(s => grains.GetGrain<ISiloDevicesGrain>(ShardKey.ForSilo(s)).GetDeviceSlots()));
        var shardSilos = shards.Count == 0 ? [routerSilo] : shards.Select(s => ShardKey.SiloOf(s.Key)).ToList();
        var shardsPerSilo = silos.Select(silo => shardSilos.Count(s => s.Equals(silo))).ToArray();
        int router = silos.IndexOf(routerSilo);
        var placement = DraftPlacementPlanner.Place(slots, shardsPerSilo, router >= 0 ? router : null);
        var grain = grains.GetGrain<IDraftGrain>(DraftKey.For(deployment.Name, generation, silos[placement.Silo]));
        var report = await grain.Load(new DraftAssignment(deployment.Name, generation, directory, deployment.Device, deployment.DType,
            deployment.DraftVocabTokens, placement.HasOwnSlot));
        return new GrainDrafter(grain, report);
    }
}
