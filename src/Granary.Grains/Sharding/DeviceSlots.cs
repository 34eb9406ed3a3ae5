namespace Granary.Grains.Sharding;

/// <summary>
/// One silo's device slots and the shard holding each, for every deployment of the cluster: a slot is
/// reserved by the deployment placing a shard on it, claimed by the shard when it loads, and released when the
/// shard goes (unloaded, its lease lapsed, or deactivated). A reservation its shard does not claim in time
/// (the placing router died in between) lapses. So no two shards ever share a slot, across deployments and
/// re-placements alike.
/// </summary>
public sealed class DeviceSlots(int numSlots, TimeProvider time)
{
    readonly Dictionary<string, DateTimeOffset?> _holders = new(StringComparer.Ordinal); // shard key -> claim deadline, null once claimed

    public int NumSlots => numSlots;

    public int NumFree
    {
        get
        {
            DropUnclaimed();
            return numSlots - _holders.Count;
        }
    }

    /// <summary>The shards holding (or about to claim) a slot here.</summary>
    public IReadOnlyList<string> Holders
    {
        get
        {
            DropUnclaimed();
            return _holders.Keys.Order(StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>Reserves a slot for <paramref name="shardKey"/> (true also when it already holds one); false when none is free.</summary>
    public bool TryReserve(string shardKey, TimeSpan claimWithin)
    {
        DropUnclaimed();
        if (_holders.ContainsKey(shardKey)) return true;
        if (_holders.Count >= numSlots) return false;
        _holders[shardKey] = time.GetUtcNow() + claimWithin;
        return true;
    }

    /// <summary>The shard takes its reserved slot (or, its reservation lapsed, a free one) until it releases it; false when none is left.</summary>
    public bool TryClaim(string shardKey)
    {
        DropUnclaimed();
        if (!_holders.ContainsKey(shardKey) && _holders.Count >= numSlots) return false;
        _holders[shardKey] = null;
        return true;
    }

    public void Release(string shardKey) => _holders.Remove(shardKey);

    /// <summary>
    /// Frees the slots that shards of <paramref name="deployment"/>'s other placements hold or reserved: a deployment
    /// placed again (a silo left, a shard lost its weights, its router moved) has given those placements up, so it
    /// takes their slots at once instead of waiting until each stale shard has unloaded or its lease has lapsed.
    /// Returns the stale shards' keys.
    /// </summary>
    public IReadOnlyList<string> ReleaseOtherPlacements(string deployment, int generation)
    {
        var stale = _holders.Keys.Where(k => ShardKey.IsOtherPlacementOf(k, deployment, generation)).Order(StringComparer.Ordinal).ToList();
        foreach (string key in stale) _holders.Remove(key);
        return stale;
    }

    void DropUnclaimed()
    {
        var now = time.GetUtcNow();
        foreach (var lapsed in _holders.Where(h => h.Value is { } deadline && deadline <= now).Select(h => h.Key).ToList())
            _holders.Remove(lapsed);
    }
}
