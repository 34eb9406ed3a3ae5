namespace Granary.Engine.KvReuse;

/// <summary>
/// Predicts how long a tool call keeps its program away, per tool name, from the gaps observed between a
/// turn that ended waiting on the tool and the program's next turn: a high quantile of the last
/// <see cref="WindowSize"/> gaps, so that most returns land inside the TTL while a heavy tail does not pin
/// memory for ever. Before any observation the tool gets the configured default.
/// </summary>
public sealed class ToolDurationPredictor(TimeSpan defaultDuration, double quantile = 0.9)
{
    public const int WindowSize = 64;

    readonly Dictionary<string, Queue<double>> _gapSeconds = [];

    public void Observe(string tool, TimeSpan gap)
    {
        if (gap < TimeSpan.Zero) return;
        if (!_gapSeconds.TryGetValue(tool, out var gaps)) _gapSeconds[tool] = gaps = new Queue<double>();
        if (gaps.Count == WindowSize) gaps.Dequeue();
        gaps.Enqueue(gap.TotalSeconds);
    }

    public int NumObservations(string tool) => _gapSeconds.TryGetValue(tool, out var gaps) ? gaps.Count : 0;

    /// <summary>The nearest-rank quantile of the tool's recent gaps, or the default when none was seen.</summary>
    public TimeSpan Predict(string tool)
    {
        if (!_gapSeconds.TryGetValue(tool, out var gaps) || gaps.Count == 0) return defaultDuration;
        var sorted = gaps.Order().ToArray();
        int rank = Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1);
        return TimeSpan.FromSeconds(sorted[rank]);
    }

    /// <summary>
    /// Continuum scales the TTL with the program's turns: a program deep into its work has more context to
    /// prefill again if its KV goes, so holding it is worth longer. +25% per turn after the first, at most 2×.
    /// </summary>
    public static double TurnScale(int numTurns) => Math.Min(1 + 0.25 * Math.Max(0, numTurns - 1), 2.0);
}
