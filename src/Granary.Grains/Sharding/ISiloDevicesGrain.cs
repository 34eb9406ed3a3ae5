namespace Granary.Grains.Sharding;

/// <summary>One per silo (keyed by <see cref="ShardKey.ForSilo"/>, so it lives there): the device slots the silo offers to shards.</summary>
public interface ISiloDevicesGrain : IGrainWithStringKey
{
    Task<int> GetDeviceSlots();
}

/// <summary>A silo's share of accelerators for shards (`Granary:Devices`; one CPU slot by default).</summary>
public sealed record SiloDevices(int Slots = 1);

[SiloPinnedPlacement]
public sealed class SiloDevicesGrain(SiloDevices devices) : Grain, ISiloDevicesGrain
{
    public Task<int> GetDeviceSlots() => Task.FromResult(devices.Slots);
}
