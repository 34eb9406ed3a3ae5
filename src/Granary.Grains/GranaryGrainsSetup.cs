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

    /// <summary>
    /// Every silo registers grains in Orleans' strongly consistent in-cluster directory (experimental in Orleans 10,
    /// and what its test clusters already run on). The default directory is eventually consistent: when the silo
    /// holding a router's entry dies, a second router of the same deployment can be activated beside the first, and
    /// the two then fight over the deployment's device slots. The strongly consistent one recovers the entry instead.
    /// </summary>
    public static ISiloBuilder UseGranaryGrainDirectory(this ISiloBuilder silo)
    {
#pragma warning disable ORLEANSEXP003 // experimental API: the in-cluster directory that prevents duplicate activations
        return silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
    }

    public static IServiceCollection AddGranaryDeployments(this IServiceCollection services, IEnumerable<DeploymentOptions> deployments) =>
        services.AddSingleton(new DeploymentCatalog(deployments));
}
