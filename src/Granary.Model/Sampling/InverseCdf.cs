namespace Granary.Model.Sampling;

/// <summary>
/// The one inverse-CDF walk every draw here makes, in index order: the first index whose running weight
/// exceeds the target. Ties to rounding go to the last index with weight, so a target a hair past the total
/// still lands on a token.
/// </summary>
public static class InverseCdf
{
    /// <summary>The drawn index, or -1 when no weight is positive.</summary>
    public static int Index(ReadOnlySpan<double> weights, double target)
    {
        double running = 0;
        int last = -1;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] <= 0) continue;
            running += weights[i];
            last = i;
            if (running > target) return i;
        }
        return last;
    }
}
