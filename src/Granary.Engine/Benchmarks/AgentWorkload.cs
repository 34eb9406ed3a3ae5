namespace Granary.Engine.Benchmarks;

/// <summary>
/// The shape of an agent workload: programs arriving one after another, each running several turns that
/// share one system prompt, with a tool call (a pause drawn from a Pareto distribution: most are short, a
/// few very long) between turns. Times are in units of <see cref="TimeUnitSeconds"/>, which the benchmark
/// sets from a measured prefill so the workload loads any machine alike.
/// </summary>
public sealed record AgentWorkload
{
    public int NumPrograms { get; init; } = 32;

    public int NumTurns { get; init; } = 4;

    public int SystemPromptTokens { get; init; } = 256;

    /// <summary>The program's own task, after the system prompt.</summary>
    public int TaskTokens { get; init; } = 64;

    /// <summary>Tokens each turn generates (greedy, EOS ignored: every arm generates the same).</summary>
    public int OutputTokens { get; init; } = 16;

    /// <summary>Tokens of each tool result, appended before the next turn.</summary>
    public int ToolResultTokens { get; init; } = 32;

    /// <summary>Mean gap between program arrivals, in time units.</summary>
    public double ArrivalGap { get; init; } = 0.5;

    /// <summary>The Pareto scale (smallest pause) of each tool, in time units; tools are used in turn.</summary>
    public IReadOnlyList<(string Tool, double MinPause)> Tools { get; init; } = [("search", 1.0), ("run_tests", 3.0), ("read_file", 0.5)];

    /// <summary>The Pareto shape: below 2 the variance is infinite (heavy tail).</summary>
    public double PauseShape { get; init; } = 1.5;

    /// <summary>Pauses are cut at this many times their tool's scale, so a run ends.</summary>
    public double MaxPauseFactor { get; init; } = 40;

    public int Seed { get; init; } = 7;

    /// <summary>Seconds of one time unit (set by the benchmark).</summary>
    public double TimeUnitSeconds { get; init; } = 1;

    /// <summary>Tokens one program's last turn holds: the most KV a program needs.</summary>
    public int MaxProgramTokens => SystemPromptTokens + TaskTokens + NumTurns * OutputTokens + (NumTurns - 1) * ToolResultTokens;

    public string? Validate()
    {
        if (NumPrograms < 1) return "--programs must be >= 1";
        if (NumTurns < 1) return "--turns must be >= 1";
        if (SystemPromptTokens < 0 || TaskTokens < 1) return "--system-tokens must be >= 0 and --task-tokens >= 1";
        if (OutputTokens < 1 || ToolResultTokens < 1) return "--output-tokens and --tool-tokens must be >= 1";
        if (ArrivalGap < 0) return "--arrival-gap must be >= 0";
        if (PauseShape <= 1) return "the pause shape must be > 1 (a finite mean)";
        return null;
    }
}

/// <summary>One program as the workload draws it: its arrival, its first prompt, its tool results and pauses (the same for every arm).</summary>
public sealed record AgentProgramScript(string Name, double ArrivalUnits, int[] FirstPrompt, IReadOnlyList<int[]> ToolResults,
    IReadOnlyList<string> Tools, IReadOnlyList<double> PauseUnits)
{
    /// <summary>Draws every program of <paramref name="workload"/> with tokens below <paramref name="vocabSize"/> (EOS excluded).</summary>
    public static IReadOnlyList<AgentProgramScript> Draw(AgentWorkload workload, int vocabSize)
    {
        var random = new Random(workload.Seed);
        int[] Tokens(int count) => Enumerable.Range(0, count).Select(_ => random.Next(1, vocabSize - 1)).ToArray();
        int[] system = Tokens(workload.SystemPromptTokens);
        var programs = new List<AgentProgramScript>();
        double arrival = 0;
        for (int p = 0; p < workload.NumPrograms; p++)
        {
            var tools = Enumerable.Range(0, workload.NumTurns - 1).Select(t => workload.Tools[(p + t) % workload.Tools.Count]).ToList();
            var pauses = tools.Select(t => Math.Min(t.MinPause * Math.Pow(1 - random.NextDouble(), -1 / workload.PauseShape), t.MinPause * workload.MaxPauseFactor)).ToList();
            programs.Add(new AgentProgramScript($"program-{p}", arrival, [.. system, .. Tokens(workload.TaskTokens)],
                tools.Select(_ => Tokens(workload.ToolResultTokens)).ToList(), tools.Select(t => t.Tool).ToList(), pauses));
            arrival += workload.ArrivalGap * -Math.Log(1 - random.NextDouble()); // Poisson arrivals
        }
        return programs;
    }
}
