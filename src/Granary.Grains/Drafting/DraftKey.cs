using System.Globalization;
using Granary.Grains.Sharding;

namespace Granary.Grains.Drafting;

/// <summary>The key of a deployment's draft grain for one placement generation; like <see cref="ShardKey"/>, it names the silo.</summary>
public static class DraftKey
{
    public static string For(string deployment, int generation, SiloAddress silo) =>
        string.Create(CultureInfo.InvariantCulture, $"{deployment}#g{generation}#draft#{silo.ToParsableString()}");
}
