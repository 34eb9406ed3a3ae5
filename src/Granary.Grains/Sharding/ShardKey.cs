using System.Globalization;

namespace Granary.Grains.Sharding;

/// <summary>
/// Grain keys that name the silo their grain must live on: "...#SILO", SILO being
/// <see cref="SiloAddress.ToParsableString"/>, which never contains '#'. <see cref="SiloPinnedPlacement"/>
/// reads it back, so placement is decided once by whoever makes the key, and a shard whose silo has gone
/// is never silently re-created somewhere else: a new placement gets a new generation, hence new keys.
/// </summary>
public static class ShardKey
{
    public static string ForShard(string deployment, int generation, int stage, int rank, SiloAddress silo) =>
        string.Create(CultureInfo.InvariantCulture, $"{deployment}#g{generation}#s{stage}#r{rank}#{silo.ToParsableString()}");

    /// <summary>A shard holding only vocabulary part <paramref name="part"/>.</summary>
    public static string ForVocabShard(string deployment, int generation, int part, SiloAddress silo) =>
        string.Create(CultureInfo.InvariantCulture, $"{deployment}#g{generation}#v{part}#{silo.ToParsableString()}");

    /// <summary>
    /// True when <paramref name="key"/> is a shard of <paramref name="deployment"/> from a placement other than
    /// <paramref name="generation"/> (keys read "DEPLOYMENT#gGENERATION#..."; other deployments and other grains never match).
    /// </summary>
    public static bool IsOtherPlacementOf(string key, string deployment, int generation)
    {
        string prefix = deployment + "#g";
        if (!key.StartsWith(prefix, StringComparison.Ordinal)) return false;
        int end = key.IndexOf('#', prefix.Length);
        return end > prefix.Length
            && int.TryParse(key.AsSpan(prefix.Length, end - prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int other)
            && other != generation;
    }

    public static string ForSilo(SiloAddress silo) => "silo#" + silo.ToParsableString();

    /// <summary>The silo's <see cref="KvTiers.IKvTierGrain"/>.</summary>
    public static string ForKvTier(SiloAddress silo) => "kvtier#" + silo.ToParsableString();

    public static SiloAddress SiloOf(string key)
    {
        int mark = key.LastIndexOf('#');
        if (mark < 0) throw new ArgumentException($"grain key \"{key}\" names no silo", nameof(key));
        return SiloAddress.FromParsableString(key[(mark + 1)..]);
    }
}
