namespace Granary.Engine.Tests.Speculation;

/// <summary>Pearson's chi-square goodness-of-fit test of observed counts against expected probabilities.</summary>
public static class ChiSquare
{
    /// <summary>
    /// The statistic and its degrees of freedom. Cells expected fewer than 5 times are pooled into one (the
    /// usual validity rule); a count in a cell of probability 0 is an immediate failure (returns infinity).
    /// </summary>
    public static (double Statistic, int DegreesOfFreedom) Statistic(IReadOnlyList<long> observed, IReadOnlyList<double> probabilities)
    {
        long total = observed.Sum();
        double statistic = 0, pooledObserved = 0, pooledExpected = 0;
        int cells = 0;
        for (int i = 0; i < observed.Count; i++)
        {
            double expected = probabilities[i] * total;
            if (probabilities[i] <= 0)
            {
                if (observed[i] > 0) return (double.PositiveInfinity, 1);
                continue;
            }
            if (expected < 5)
            {
                pooledObserved += observed[i];
                pooledExpected += expected;
                continue;
            }
            statistic += Math.Pow(observed[i] - expected, 2) / expected;
            cells++;
        }
        if (pooledExpected > 0)
        {
            statistic += Math.Pow(pooledObserved - pooledExpected, 2) / pooledExpected;
            cells++;
        }
        return (statistic, Math.Max(1, cells - 1));
    }

    /// <summary>The upper critical value for <paramref name="degreesOfFreedom"/> at the significance whose
    /// standard-normal quantile is <paramref name="z"/> (Wilson–Hilferty; 3.090 is 0.001).</summary>
    public static double CriticalValue(int degreesOfFreedom, double z = 3.090)
    {
        double k = degreesOfFreedom;
        double a = 2.0 / (9.0 * k);
        return k * Math.Pow(1 - a + z * Math.Sqrt(a), 3);
    }
}
