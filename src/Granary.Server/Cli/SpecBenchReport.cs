using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Engine.Benchmarks;

namespace Granary.Server.Cli;

/// <summary>What `granary bench spec` reports: each configuration per batch size, and speed-ups over plain decoding.</summary>
internal sealed record SpecBenchReport(
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("draft")] string Draft,
    [property: JsonPropertyName("speculate_k")] int Speculate,
    [property: JsonPropertyName("adaptive")] bool Adaptive,
    [property: JsonPropertyName("draft_vocab")] int DraftVocab,
    [property: JsonPropertyName("vocab_trim_coverage")] double? VocabTrimCoverage,
    [property: JsonPropertyName("max_tokens")] int MaxTokens,
    [property: JsonPropertyName("repeats")] int Repeats,
    [property: JsonPropertyName("threads")] int NumThreads,
    [property: JsonPropertyName("blas")] string Blas,
    [property: JsonPropertyName("results")] IReadOnlyList<SpecBenchRow> Results,
    [property: JsonPropertyName("speedups")] IReadOnlyList<SpecBenchSpeedup> Speedups)
{
    public const string Plain = "plain", Speculative = "speculative", VocabTrim = "speculative_vocab_trim";

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static SpecBenchReport From(string target, string draft, int k, bool adaptive, int draftVocab, double? coverage, int maxTokens, int repeats,
        IReadOnlyList<SpeculationMeasurement> measurements)
    {
        var rows = measurements.Select(m => new SpecBenchRow(
            m.Config, m.BatchSize, Math.Round(m.TokensPerSecond, 1), m.RunTokensPerSecond.Select(t => Math.Round(t, 1)).ToArray(),
            m.TokensPerCpuSecond is { } cpu ? Math.Round(cpu, 1) : null,
            m.AcceptanceRate is { } a ? Math.Round(a, 4) : null, m.MeanAcceptedLength is { } l ? Math.Round(l, 3) : null, m.LearnedCap,
            m.PeakResidentBytes, m.AccountedPeakBytes)).ToList();
        var speedups = new List<SpecBenchSpeedup>();
        foreach (var plain in measurements.Where(m => m.Config == Plain))
            foreach (var other in measurements.Where(m => m.Config != Plain && m.BatchSize == plain.BatchSize))
                speedups.Add(new SpecBenchSpeedup(other.Config, plain.BatchSize,
                    Math.Round(other.TokensPerSecond / plain.TokensPerSecond, 3),
                    other.TokensPerCpuSecond is { } o1 && plain.TokensPerCpuSecond is { } p1 ? Math.Round(o1 / p1, 3) : null,
                    plain.PeakResidentBytes is { } p && other.PeakResidentBytes is { } o ? Math.Round((double)o / p, 3) : null,
                    Math.Round((double)other.AccountedPeakBytes / plain.AccountedPeakBytes, 3)));
        return new SpecBenchReport(target, draft, k, adaptive, draftVocab, coverage, maxTokens, repeats, TorchSharp.torch.get_num_threads(), Granary.Model.Runtime.TorchRuntime.MklStatus, rows, speedups);
    }

    public void WriteTable(TextWriter output)
    {
        output.WriteLine($"target {Target}, draft {Draft}, k <= {Speculate}{(Adaptive ? " (adaptive)" : "")}, VocabTrim {DraftVocab} tokens, {MaxTokens} tokens/request, median of {Repeats}");
        output.WriteLine($"BLAS: {Blas}");
        output.WriteLine("config                  batch  tokens/s  tokens/cpu_s  accept  mean_len  cap  peak_rss_MB  accounted_MB");
        foreach (var r in Results)
            output.WriteLine($"{r.Config,-22} {r.BatchSize,6} {r.TokensPerSecond,9:F1} {Format(r.TokensPerCpuSecond, "F1"),13} {Format(r.AcceptanceRate, "F3"),7} {Format(r.MeanAcceptedLength, "F2"),9} {(r.LearnedCap?.ToString() ?? "-"),4} {Format(r.PeakResidentBytes / 1e6, "F1"),12} {r.AccountedPeakBytes / 1e6,13:F1}");
        foreach (var s in Speedups)
            output.WriteLine($"{s.Config} / plain at batch {s.BatchSize}: {s.Speedup:F2}x tokens/s ({Format(s.CpuSpeedup, "F2")}x per CPU second), peak RSS {Format(s.PeakRssRatio, "F2")}x, accounted memory {s.AccountedMemoryRatio:F2}x");
    }

    static string Format(double? value, string format) => value?.ToString(format) ?? "-";
}

internal sealed record SpecBenchRow(
    [property: JsonPropertyName("config")] string Config,
    [property: JsonPropertyName("batch_size")] int BatchSize,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
    [property: JsonPropertyName("runs_tokens_per_s")] double[] RunsTokensPerSecond,
    [property: JsonPropertyName("tokens_per_cpu_s")] double? TokensPerCpuSecond,
    [property: JsonPropertyName("acceptance_rate")] double? AcceptanceRate,
    [property: JsonPropertyName("mean_accepted_length")] double? MeanAcceptedLength,
    [property: JsonPropertyName("learned_k_cap")] int? LearnedCap,
    [property: JsonPropertyName("peak_rss_bytes")] long? PeakResidentBytes,
    [property: JsonPropertyName("accounted_peak_bytes")] long AccountedPeakBytes);

internal sealed record SpecBenchSpeedup(
    [property: JsonPropertyName("config")] string Config,
    [property: JsonPropertyName("batch_size")] int BatchSize,
    [property: JsonPropertyName("speedup")] double Speedup,
    [property: JsonPropertyName("cpu_speedup")] double? CpuSpeedup,
    [property: JsonPropertyName("peak_rss_ratio")] double? PeakRssRatio,
    [property: JsonPropertyName("accounted_memory_ratio")] double AccountedMemoryRatio);
