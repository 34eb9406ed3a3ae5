using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Engine.Benchmarks;
using Granary.Engine.KvReuse;

namespace Granary.Server.Cli;

/// <summary>What `granary bench agent` reports: each arm's job completion times and prefill work, the ratios, and restore times.</summary>
internal sealed record AgentBenchReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("workload")] AgentBenchWorkload Workload,
    [property: JsonPropertyName("arms")] IReadOnlyList<AgentBenchArm> Arms,
    [property: JsonPropertyName("speedups")] AgentBenchSpeedups Speedups,
    [property: JsonPropertyName("restore")] AgentBenchRestore? Restore)
{
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static string ArmName(AgentArm arm) => arm switch
    {
        AgentArm.NoReuse => "no_reuse",
        AgentArm.Lru => "lru_prefix_cache",
        _ => "granary_ttl_tiers",
    };

    public static AgentBenchReport From(string model, AgentWorkload workload, long kvBudgetTokens, int maxNumSeqs, IReadOnlyList<AgentArmResult> results, RestoreMeasurement? restore)
    {
        var arms = results.Select(r => new AgentBenchArm(ArmName(r.Arm), Math.Round(r.MeanJct, 4), Math.Round(r.P90Jct, 4), r.NumPrefillTokens,
            r.NumCachedPromptTokens, r.HitsByTier, r.NumExpiredPins, Math.Round(r.MakespanSeconds, 3))).ToList();
        var none = results.Single(r => r.Arm == AgentArm.NoReuse);
        var lru = results.Single(r => r.Arm == AgentArm.Lru);
        var granary = results.Single(r => r.Arm == AgentArm.Granary);
        var speedups = new AgentBenchSpeedups(
            Math.Round(none.MeanJct / granary.MeanJct, 3), Math.Round(lru.MeanJct / granary.MeanJct, 3),
            Math.Round(none.P90Jct / granary.P90Jct, 3), Math.Round(lru.P90Jct / granary.P90Jct, 3));
        var workloadReport = new AgentBenchWorkload(workload.NumPrograms, workload.NumTurns, workload.SystemPromptTokens, workload.TaskTokens,
            workload.OutputTokens, workload.ToolResultTokens, workload.MaxProgramTokens, kvBudgetTokens, maxNumSeqs,
            Math.Round(workload.TimeUnitSeconds, 5), workload.PauseShape, workload.Seed, Granary.Engine.Benchmarks.AgentBenchmark.StepClockName);
        var restoreReport = restore is null ? null : new AgentBenchRestore(restore.ContextTokens, Math.Round(restore.ReprefillSeconds, 5),
            Math.Round(restore.HostSeconds, 5), Math.Round(restore.CxlSeconds, 5), Math.Round(restore.HostSpeedup, 2), Math.Round(restore.CxlSpeedup, 2));
        return new AgentBenchReport(model, workloadReport, arms, speedups, restoreReport);
    }

    public void WriteTable(TextWriter output)
    {
        var w = Workload;
        output.WriteLine($"model {Model}; {w.Programs} programs x {w.Turns} turns (system {w.SystemPromptTokens}, task {w.TaskTokens}, output {w.OutputTokens}, tool result {w.ToolResultTokens} tokens); device KV budget {w.KvBudgetTokens} tokens ({(double)w.KvBudgetTokens / w.MaxProgramTokens:F1} programs), time unit {w.TimeUnitSeconds * 1000:F1} ms; steps timed by {w.StepClock}");
        output.WriteLine("arm                 mean_jct_s  p90_jct_s  prefill_tokens  cached_tokens  hits(device/host/cxl)  ttl_expired");
        foreach (var a in Arms)
            output.WriteLine($"{a.Name,-19} {a.MeanJctSeconds,10:F3} {a.P90JctSeconds,10:F3} {a.PrefillTokens,15} {a.CachedPromptTokens,14} {$"{a.Hits["device"]}/{a.Hits["host"]}/{a.Hits["cxl"]}",22} {a.TtlExpired,12}");
        output.WriteLine($"mean JCT: {Speedups.MeanVsNoReuse:F2}x better than no reuse, {Speedups.MeanVsLru:F2}x better than LRU; p90: {Speedups.P90VsNoReuse:F2}x, {Speedups.P90VsLru:F2}x");
        if (Restore is { } r)
            output.WriteLine($"restore {r.ContextTokens} tokens: re-prefill {r.ReprefillSeconds * 1000:F2} ms, host {r.HostSeconds * 1000:F2} ms ({r.HostSpeedup:F1}x), cxl {r.CxlSeconds * 1000:F2} ms ({r.CxlSpeedup:F1}x)");
    }
}

internal sealed record AgentBenchWorkload(
    [property: JsonPropertyName("programs")] int Programs,
    [property: JsonPropertyName("turns")] int Turns,
    [property: JsonPropertyName("system_prompt_tokens")] int SystemPromptTokens,
    [property: JsonPropertyName("task_tokens")] int TaskTokens,
    [property: JsonPropertyName("output_tokens")] int OutputTokens,
    [property: JsonPropertyName("tool_result_tokens")] int ToolResultTokens,
    [property: JsonPropertyName("max_program_tokens")] int MaxProgramTokens,
    [property: JsonPropertyName("kv_budget_tokens")] long KvBudgetTokens,
    [property: JsonPropertyName("max_num_seqs")] int MaxNumSeqs,
    [property: JsonPropertyName("time_unit_s")] double TimeUnitSeconds,
    [property: JsonPropertyName("pause_pareto_shape")] double PauseShape,
    [property: JsonPropertyName("seed")] int Seed,
    [property: JsonPropertyName("step_clock")] string StepClock);

internal sealed record AgentBenchArm(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("mean_jct_s")] double MeanJctSeconds,
    [property: JsonPropertyName("p90_jct_s")] double P90JctSeconds,
    [property: JsonPropertyName("prefill_tokens")] long PrefillTokens,
    [property: JsonPropertyName("cached_prompt_tokens")] long CachedPromptTokens,
    [property: JsonPropertyName("hits_by_tier")] IReadOnlyDictionary<string, long> Hits,
    [property: JsonPropertyName("ttl_expired")] long TtlExpired,
    [property: JsonPropertyName("makespan_s")] double MakespanSeconds);

internal sealed record AgentBenchSpeedups(
    [property: JsonPropertyName("mean_jct_vs_no_reuse")] double MeanVsNoReuse,
    [property: JsonPropertyName("mean_jct_vs_lru")] double MeanVsLru,
    [property: JsonPropertyName("p90_jct_vs_no_reuse")] double P90VsNoReuse,
    [property: JsonPropertyName("p90_jct_vs_lru")] double P90VsLru);

internal sealed record AgentBenchRestore(
    [property: JsonPropertyName("context_tokens")] int ContextTokens,
    [property: JsonPropertyName("reprefill_s")] double ReprefillSeconds,
    [property: JsonPropertyName("host_s")] double HostSeconds,
    [property: JsonPropertyName("cxl_s")] double CxlSeconds,
    [property: JsonPropertyName("host_speedup")] double HostSpeedup,
    [property: JsonPropertyName("cxl_speedup")] double CxlSpeedup);
