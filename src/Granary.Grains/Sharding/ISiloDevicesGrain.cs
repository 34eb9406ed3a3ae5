namespace Granary.Grains.Sharding;

/// <summary>
/// One per silo (keyed by <see cref="ShardKey.ForSilo"/>, so it lives there): the device slots the silo offers
/// to shards, and which shard of which deployment holds each (<see cref="DeviceSlots"/>).
/// </summary>
public interface ISiloDevicesGrain : IGrainWithStringKey
{
    /// <summary>All the silo's slots, held or not.</summary>
    Task<int> GetDeviceSlots();

    /// <summary>Slots no shard holds or has reserved.</summary>
    Task<int> GetFreeSlots();

    /// <summary>The keys of the shards holding (or about to claim) the silo's slots.</summary>
    Task<string[]> GetHolders();

    /// <summary>Reserves a slot for a shard about to be loaded; false when none is free. Lapses unless the shard claims it within <paramref name="claimWithin"/>.</summary>
    Task<bool> TryReserve(string shardKey, TimeSpan claimWithin);

    /// <summary>The loading shard takes its slot; false when it lost its reservation and no slot is free.</summary>
    Task<bool> TryClaim(string shardKey);

    Task Release(string shardKey);

    /// <summary>Frees the slots of <paramref name="deployment"/>'s shards from placements other than <paramref name="generation"/>; returns their keys (<see cref="DeviceSlots.ReleaseOtherPlacements"/>).</summary>
    Task<string[]> ReleaseOtherPlacements(string deployment, int generation);
}

/// <summary>A silo's share of accelerators for shards (`Granary:Devices`; one CPU slot by default).</summary>
public sealed record SiloDevices(int Slots = 1);

/// <summary>Holds the silo's slot bookkeeping for as long as the silo lives (never collected: the reservations are its state).</summary>
[SiloPinnedPlacement]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class SiloDevicesGrain(SiloDevices devices) : Grain, ISiloDevicesGrain
{
    readonly DeviceSlots _slots = new(devices.Slots, TimeProvider.System);

    public Task<int> GetDeviceSlots() => Task.FromResult(_slots.NumSlots);

    public Task<int> GetFreeSlots() => Task.FromResult(_slots.NumFree);

    public Task<string[]> GetHolders() => Task.FromResult(_slots.Holders.ToArray());

    public Task<bool> TryReserve(string shardKey, TimeSpan claimWithin) => Task.FromResult(_slots.TryReserve(shardKey, claimWithin));

    public Task<bool> TryClaim(string shardKey) => Task.FromResult(_slots.TryClaim(shardKey));

    public Task Release(string shardKey)
    {
        _slots.Release(shardKey);
        return Task.CompletedTask;
    }

    public Task<string[]> ReleaseOtherPlacements(string deployment, int generation) =>
        Task.FromResult(_slots.ReleaseOtherPlacements(deployment, generation).ToArray());
}
