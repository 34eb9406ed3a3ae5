using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Server.Benchmarks;

namespace Granary.Server.Cli;

/// <summary>What `granary bench load` reports.</summary>
internal sealed record LoadBenchReport(
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("clients")] int Clients,
    [property: JsonPropertyName("duration_s")] double DurationSeconds,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("max_tokens")] int MaxTokens,
    [property: JsonPropertyName("requests")] int Requests,
    [property: JsonPropertyName("errors")] int Errors,
    [property: JsonPropertyName("error_samples")] IReadOnlyList<string> ErrorSamples,
    [property: JsonPropertyName("generated_tokens")] long GeneratedTokens,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
    [property: JsonPropertyName("ttft_ms_p50")] double TtftP50Ms,
    [property: JsonPropertyName("ttft_ms_p99")] double TtftP99Ms,
    [property: JsonPropertyName("itl_ms_p50")] double ItlP50Ms,
    [property: JsonPropertyName("itl_ms_p99")] double ItlP99Ms,
    [property: JsonPropertyName("rss_mb")] IReadOnlyDictionary<string, double>? RssMb,
    [property: JsonPropertyName("rss_growth_50_to_100_pct")] double? RssGrowthPercent)
{
    /// <summary>Issue 10's acceptance: resident memory grows less than this from half-way to the end of the run.</summary>
    public const double TargetRssGrowthPercent = 10;

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    [JsonPropertyName("target_rss_growth_pct")]
    public double TargetRssGrowth => TargetRssGrowthPercent;

    /// <summary>No failed request, and (when measured) memory growth under the target.</summary>
    [JsonPropertyName("meets_target")]
    public bool MeetsTarget => Errors == 0 && (RssGrowthPercent is not { } growth || growth < TargetRssGrowthPercent);

    public static LoadBenchReport From(string? model, string target, TimeSpan duration, int maxTokens, LoadBenchRun run, bool hasRss)
    {
        IReadOnlyDictionary<string, double>? rss = hasRss
            ? run.Rss.ToDictionary(s => $"{s.FractionOfRun * 100:0}%", s => Math.Round(s.Bytes / 1048576.0, 1))
            : null;
        double? growth = null;
        if (hasRss && run.Rss.FirstOrDefault(s => s.FractionOfRun == 0.5) is { Bytes: > 0 } half && run.Rss.Last() is { } end)
            growth = Math.Round(100.0 * (end.Bytes - half.Bytes) / half.Bytes, 2);
        return new LoadBenchReport(model, target, run.NumClients, duration.TotalSeconds, Math.Round(run.Seconds, 2), maxTokens, run.NumRequests,
            run.NumErrors, run.ErrorSamples, run.NumTokens, Math.Round(run.TokensPerSecond, 1),
            Math.Round(run.TimeToFirstToken.P50Ms, 2), Math.Round(run.TimeToFirstToken.P99Ms, 2),
            Math.Round(run.InterToken.P50Ms, 2), Math.Round(run.InterToken.P99Ms, 2), rss, growth);
    }

    public void WriteTable(TextWriter output)
    {
        output.WriteLine($"{Clients} streaming clients for {DurationSeconds:0} s against {Target}, {MaxTokens} tokens per request (greedy, EOS ignored)");
        output.WriteLine($"requests {Requests}, errors {Errors}, tokens {GeneratedTokens} in {Seconds:F1} s ({TokensPerSecond:F1} tokens/s)");
        output.WriteLine($"ttft p50 {TtftP50Ms:F1} ms, p99 {TtftP99Ms:F1} ms; inter-token p50 {ItlP50Ms:F1} ms, p99 {ItlP99Ms:F1} ms");
        foreach (string sample in ErrorSamples) output.WriteLine($"  error: {sample}");
        if (RssMb is not null)
            output.WriteLine($"RSS MB at {string.Join(", ", RssMb.Select(r => $"{r.Key} {r.Value:F1}"))}; growth 50%->100% {RssGrowthPercent:F2}% " +
                $"(target < {TargetRssGrowthPercent:F0}%)");
        output.WriteLine($"target (0 errors, RSS growth < {TargetRssGrowthPercent:F0}%): {(MeetsTarget ? "met" : "not met")}");
    }
}
