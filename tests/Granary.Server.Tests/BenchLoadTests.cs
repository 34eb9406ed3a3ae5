using System.Text.Json;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>
/// `granary bench load` with tiny settings: it starts an in-process silo, streams over HTTP from several
/// clients for a short time, and reports every field. No timing assertions: the numbers exist and are sane.
/// </summary>
public sealed class BenchLoadTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void Json_ReportsErrorsLatenciesAndRssAtFourPoints()
    {
        var result = Cmd.Run("bench", "load", "--model", fixture.ModelDir, "--clients", "3", "--duration", "2", "--max-tokens", "4", "--json");
        var json = result.Json();

        Assert.Equal(3, json.GetProperty("clients").GetInt32());
        Assert.Equal(2, json.GetProperty("duration_s").GetDouble());
        Assert.Equal(4, json.GetProperty("max_tokens").GetInt32());
        Assert.Equal(0, json.GetProperty("errors").GetInt32());
        Assert.Empty(json.GetProperty("error_samples").EnumerateArray());
        int requests = json.GetProperty("requests").GetInt32();
        Assert.True(requests >= 3, result.Stdout);
        Assert.Equal(4L * requests, json.GetProperty("generated_tokens").GetInt64()); // EOS ignored: exactly max_tokens each
        Assert.True(json.GetProperty("seconds").GetDouble() >= 2, result.Stdout);
        foreach (string field in new[] { "ttft_ms_p50", "ttft_ms_p99", "itl_ms_p50", "itl_ms_p99", "tokens_per_s" })
            Assert.True(json.GetProperty(field).GetDouble() >= 0, $"{field}: {result.Stdout}");
        Assert.True(json.GetProperty("ttft_ms_p99").GetDouble() >= json.GetProperty("ttft_ms_p50").GetDouble(), result.Stdout);
        var rss = json.GetProperty("rss_mb");
        Assert.Equal(["25%", "50%", "75%", "100%"], rss.EnumerateObject().Select(p => p.Name));
        Assert.All(rss.EnumerateObject(), p => Assert.True(p.Value.GetDouble() > 0, result.Stdout));
        double half = rss.GetProperty("50%").GetDouble(), end = rss.GetProperty("100%").GetDouble();
        Assert.Equal(100 * (end - half) / half, json.GetProperty("rss_growth_50_to_100_pct").GetDouble(), 0);
        Assert.Equal(10, json.GetProperty("target_rss_growth_pct").GetDouble());
        Assert.Contains(json.GetProperty("meets_target").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
        Assert.Empty(result.StderrLines);
    }

    [Theory]
    [InlineData("--clients", "0")]
    [InlineData("--duration", "0")]
    [InlineData("--max-tokens", "-1")]
    [InlineData("--url", "ftp://x")]
    public void ABadFlag_IsAUserError(string flag, string value)
    {
        var result = Cmd.Run("bench", "load", "--model", fixture.ModelDir, flag, value);
        Cmd.AssertUserError(result, flag);
    }
}
