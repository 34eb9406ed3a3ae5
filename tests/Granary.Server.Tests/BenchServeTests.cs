using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>
/// `granary bench serve` on the tiny model with a handful of tokens: it starts an in-process silo, streams
/// through the gateway and reports every field. No timing assertions: only that the numbers exist and are sane.
/// </summary>
public sealed class BenchServeTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public void Json_ReportsThroughputAndLatenciesForEachClientCount()
    {
        var result = Cmd.Run("bench", "serve", "--model", fixture.ModelDir, "--clients", "1,2", "--requests-per-client", "2", "--max-tokens", "3", "--repeats", "2", "--json");
        var json = result.Json();

        Assert.Equal(fixture.ModelDir, json.GetProperty("model").GetString());
        Assert.Equal(3, json.GetProperty("max_tokens").GetInt32());
        Assert.Equal(2, json.GetProperty("requests_per_client").GetInt32());
        Assert.Equal(2, json.GetProperty("repeats").GetInt32());
        var rows = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(new[] { 1, 2 }, rows.Select(r => r.GetProperty("clients").GetInt32()));
        foreach (var row in rows)
        {
            int clients = row.GetProperty("clients").GetInt32();
            Assert.Equal(2 * clients, row.GetProperty("requests").GetInt32());
            Assert.Equal(2 * clients * 3, row.GetProperty("generated_tokens").GetInt64()); // EOS ignored: exactly max_tokens each
            Assert.True(row.GetProperty("tokens_per_s").GetDouble() > 0, result.Stdout);
            foreach (string field in new[] { "seconds", "ttft_ms_p50", "ttft_ms_p99", "itl_ms_p50", "itl_ms_p99" })
                Assert.True(row.GetProperty(field).GetDouble() >= 0, $"{field}: {result.Stdout}");
            Assert.True(row.GetProperty("ttft_ms_p99").GetDouble() >= row.GetProperty("ttft_ms_p50").GetDouble(), result.Stdout);
        }
        Assert.True(json.GetProperty("throughput_ratio").GetDouble() > 0, result.Stdout);
        Assert.Equal(6, json.GetProperty("target_ratio").GetDouble());
        Assert.Contains(json.GetProperty("meets_target").ValueKind, new[] { System.Text.Json.JsonValueKind.True, System.Text.Json.JsonValueKind.False });
        Assert.Empty(result.StderrLines);
    }

    [Fact]
    public void MaxTokensPastTheContext_IsAUserError()
    {
        var result = Cmd.Run("bench", "serve", "--model", fixture.ModelDir, "--clients", "1", "--max-tokens", "100000");
        Cmd.AssertUserError(result, "--max-tokens", "context");
    }

    [Fact]
    public void ABadClientCount_IsAUserError()
    {
        var result = Cmd.Run("bench", "serve", "--model", fixture.ModelDir, "--clients", "1,zero");
        Cmd.AssertUserError(result, "--clients", "zero");
    }
}
