using Granary.Engine.KvReuse;
using Granary.Grains.Deployments;
using Granary.Grains.KvTiers;
using Granary.Grains.Sharding;
using Orleans.Runtime.Placement;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Granary.Grains;

/// <summary>What every silo (and every Orleans client) of a Granary cluster registers.</summary>
public static class GranaryGrainsSetup
{
    /// <summary>
    /// Wire records from Granary.Abstractions (requests, chunks) travel as JSON: that assembly stays free of
    /// Orleans, and these messages are small. Tensors get generated codecs in this assembly when shards land.
    /// </summary>
    public static IServiceCollection AddGranaryWireTypes(this IServiceCollection services) =>
        services.AddSerializer(serializer => serializer.AddJsonSerializer(
            isSupported: type => type.Namespace?.StartsWith("Granary.Abstractions", StringComparison.Ordinal) == true));

    /// <summary>
    /// What a silo needs to hold shards: its device slots, in-process TP groups, the silo-pinned placement, and
    /// the cxl memory (if any) its KV tier grain keeps its shards' demoted blocks in.
    /// </summary>
    public static IServiceCollection AddGranaryShards(this IServiceCollection services, int deviceSlots = 1, CxlMemory? cxl = null)
    {
        services.AddSingleton(new SiloDevices(deviceSlots));
        services.AddSingleton(new KvTierSilo(cxl));
        services.AddSingleton<LocalShardGroups>();
        services.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
        return services;
    }

    public static IServiceCollection AddGranaryDeployments(this IServiceCollection services, IEnumerable<DeploymentOptions> deployments) =>
        services.AddSingleton(new DeploymentCatalog(deployments));
}
