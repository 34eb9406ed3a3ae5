using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Granary.Grains.Sharding;

/// <summary>Places a grain on the silo its key names (<see cref="ShardKey"/>).</summary>
[Serializable, GenerateSerializer, Immutable]
public sealed class SiloPinnedPlacement : PlacementStrategy
{
    internal static readonly SiloPinnedPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloPinnedPlacementAttribute() : PlacementAttribute(SiloPinnedPlacement.Instance);

/// <summary>
/// Activates a silo-pinned grain only on its silo. When that silo has left the cluster the activation fails
/// with a message saying so (the caller re-plans), rather than landing on another silo with the wrong slot.
/// </summary>
public sealed class SiloPinnedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silo = ShardKey.SiloOf(target.GrainIdentity.Key.ToString()!);
        if (!context.GetCompatibleSilos(target).Contains(silo))
            throw new SiloUnavailableException($"silo {silo} named by grain {target.GrainIdentity} is not in the cluster");
        return Task.FromResult(silo);
    }
}
