namespace Granary.Engine.Speculation;

/// <summary>
/// How many tokens a sequence should draft given its acceptance: the j-th draft token is emitted only if
/// all j are accepted, which happens with probability about a^j; drafting it is worth a draft step and one
/// more verified position, so tokens are drafted while a^j stays above <see cref="MinEmitProbability"/>.
/// </summary>
public static class AdaptiveK
{
    /// <summary>Below this chance of being emitted, a further draft token costs more than it returns.</summary>
    public const double MinEmitProbability = 0.2;

    /// <summary>k in 1..<paramref name="maxK"/> for per-token acceptance <paramref name="acceptance"/> (0 when maxK is 0).</summary>
    public static int ForAcceptance(double acceptance, int maxK)
    {
        if (maxK <= 0) return 0;
        if (acceptance <= 0) return 1;
        if (acceptance >= 1) return maxK;
        int k = (int)Math.Floor(Math.Log(MinEmitProbability) / Math.Log(acceptance));
        return Math.Clamp(k, 1, maxK);
    }
}
