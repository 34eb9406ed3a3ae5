using Granary.Abstractions;

namespace Granary.Grains.Deployments;

/// <summary>Where a deployment's draft model runs (`Granary:DraftPlacement`, `--draft-placement`).</summary>
public enum DraftPlacementMode
{
    /// <summary>On a draft grain when the target runs a plan (its shards are grains already), else beside the router.</summary>
    Auto,

    /// <summary>In the router's process, beside its engine.</summary>
    Local,

    /// <summary>On a draft grain: its own device slot when a silo has one free, else co-located with a target shard.</summary>
    Grain,
}

public static class DraftPlacementModes
{
    /// <summary>"auto", "local" or "grain" (any case); a user error naming <paramref name="setting"/> otherwise.</summary>
    public static DraftPlacementMode Parse(string? text, string setting) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => DraftPlacementMode.Auto,
        "local" => DraftPlacementMode.Local,
        "grain" => DraftPlacementMode.Grain,
        _ => throw new GranaryUserError($"{setting}: \"{text}\" is not auto, local or grain"),
    };
}
