using System.Text.Json;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>
/// `granary bench decode --model DIR` on a small synthesized model (never the default ~100M-parameter one).
/// A few MB of weights rather than the tiny 150 KB model, so the roofline ratio (rounded to 3 decimals) is
/// comfortably above 0 even on a loaded machine.
/// </summary>
public sealed class BenchDecodeTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    string SynthBenchModel()
    {
        string dir = fixture.NewDir("bench");
        Cmd.Ok("model", "synth", "--out", dir, "--layers", "2", "--hidden", "256", "--heads", "4", "--vocab", "1000", "--seed", "1");
        return dir;
    }

    [Fact]
    public void Json_ReportsBandwidthAndThroughputForEachBatchSize()
    {
        string model = SynthBenchModel();
        var result = Cmd.Run("bench", "decode", "--model", model, "--steps", "2", "--batch-sizes", "1", "2", "--json");
        var json = result.Json();

        Assert.True(json.GetProperty("memory_bandwidth_gb_per_s").GetDouble() > 0, result.Stdout);
        var rows = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(new[] { 1, 2 }, rows.Select(r => r.GetProperty("batch_size").GetInt32()).Order());
        foreach (var row in rows)
        {
            Assert.True(row.GetProperty("tokens_per_s").GetDouble() > 0, result.Stdout);
            Assert.True(row.GetProperty("step_ms").GetDouble() >= 0, result.Stdout);
        }
        Assert.True(json.GetProperty("roofline_ratio").GetDouble() > 0, result.Stdout);
        Assert.True(json.GetProperty("parameters").GetInt64() > 1_000_000, result.Stdout);
        Assert.True(json.GetProperty("weight_bytes").GetInt64() >= 4 * json.GetProperty("parameters").GetInt64(), "fp32 weights take 4 bytes each");
        Assert.True(json.GetProperty("batch_scaling").GetDouble() > 0, result.Stdout);
        // With --json, stderr carries no progress chatter and no errors.
        Assert.Empty(result.StderrLines);
    }

    [Fact]
    public void Text_PrintsATableRowPerBatchSize()
    {
        var result = Cmd.Ok("bench", "decode", "--model", fixture.ModelDir, "--steps", "2", "--batch-sizes", "1", "2");
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToList();
        Assert.Contains(lines, l => l.StartsWith("memory bandwidth", StringComparison.Ordinal));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^1\s+[\d.]+\s+[\d.]+$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^2\s+[\d.]+\s+[\d.]+$"));
        Assert.Contains(lines, l => l.StartsWith("roofline ratio", StringComparison.Ordinal));
        Cmd.AssertNoStackTrace(result.Stderr);
    }
}
