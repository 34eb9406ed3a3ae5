using System.Diagnostics;
using System.Net.Http.Json;
using Granary.Server.Telemetry;
using Granary.Server.Tests.Support;
using Granary.TestKit;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// A server with the KV tier on (tiny blocks, a host tier, a short default TTL): an agent program's turns
/// reuse their prefix from the device, then — once the pin for the tool has run out — from host RAM, and the
/// tier's metrics move accordingly.
/// </summary>
public sealed class KvTierMetricsTests : IAsyncLifetime
{
    const string Model = "metrics-kv";
    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions);
    GranaryServer? _server;

    public async Task InitializeAsync() =>
        _server = await GranaryServer.StartAsync(_model.Path, Model, environment: new Dictionary<string, string>
        {
            ["GRANARY__KVTIER__ENABLED"] = "true",
            ["GRANARY__KVTIER__BLOCKSIZE"] = "4",
            ["GRANARY__KVTIER__DEVICEBLOCKS"] = "256",
            ["GRANARY__KVTIER__HOSTBLOCKS"] = "64",
            ["GRANARY__KVTIER__DEFAULTTTLSECONDS"] = "2",
        });

    public Task DisposeAsync()
    {
        _server?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }

    async Task<int[]> TurnAsync(HttpClient http, int[] prompt, string? awaitingTool)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = JsonContent.Create(new { model = Model, prompt, max_tokens = 4, temperature = 0, ignore_eos = true, return_tokens_as_token_ids = true }),
        };
        request.Headers.Add("X-Granary-Program", "agent-1");
        if (awaitingTool is not null) request.Headers.Add("X-Granary-Awaiting-Tool", awaitingTool);
        using var response = await http.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return [.. prompt, 11, 12, 13, 14]; // the next turn: this prompt, then (whatever the reply was) the tool's result
    }

    [Fact]
    public async Task Prefix_hits_ttl_expiry_and_host_restores_show_on_the_scrape()
    {
        using var http = new HttpClient { BaseAddress = _server!.HttpAddress, Timeout = TimeSpan.FromMinutes(1) };
        int[] prompt = Enumerable.Range(1, 40).ToArray();
        prompt = await TurnAsync(http, prompt, awaitingTool: "search");
        prompt = await TurnAsync(http, prompt, awaitingTool: "search"); // back within the TTL: reused from the device
        await Task.Delay(TimeSpan.FromSeconds(3));                      // the pin (the gap so far, x 1.25) runs out
        await TurnAsync(http, prompt, awaitingTool: null);              // its blocks went to host; restored from there

        var watch = Stopwatch.StartNew();
        PrometheusExposition scrape;
        do
        {
            await Task.Delay(300);
            scrape = PrometheusExposition.Parse(await http.GetStringAsync("/metrics"));
        }
        while (scrape.Sum(MetricNames.KvTierHits, ("tier", "host")) == 0 && watch.Elapsed < TimeSpan.FromSeconds(20));

        Assert.True(scrape.Sum(MetricNames.PrefixCacheQueries) >= 40 + 44 + 48, scrape.Text);
        Assert.True(scrape.Sum(MetricNames.PrefixCacheHits) >= 40, scrape.Text);
        Assert.True(scrape.Sum(MetricNames.KvTierHits, ("tier", "device")) > 0, scrape.Text);
        Assert.True(scrape.Sum(MetricNames.KvTierHits, ("tier", "host")) > 0, scrape.Text);
        Assert.True(scrape.Sum(MetricNames.KvTtlExpired) >= 1, scrape.Text);
        Assert.True(scrape.Sum(MetricNames.KvRestoreTime + "_count", ("tier", "host")) >= 1, scrape.Text);
        Assert.True(scrape.Sum(MetricNames.KvTierBlocks, ("tier", "device")) > 0, scrape.Text);
        Assert.True(scrape.Sum(MetricNames.KvTierBytes, ("tier", "device")) > 0, scrape.Text);
        Assert.True(scrape.Has(MetricNames.KvTierBlocks) && scrape.Find(MetricNames.KvTierBlocks, ("tier", "cxl")).Any(), scrape.Text);
        Assert.True(scrape.Has(MetricNames.KvCacheUsage), scrape.Text);

        // GET /v1/cluster shows the same tier: blocks now and blocks reused, per tier.
        using var cluster = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/v1/cluster"));
        var kvTier = cluster.RootElement.GetProperty("deployments")[0].GetProperty("kv_tier");
        Assert.True(kvTier.GetProperty("hits").GetProperty("host").GetInt64() > 0, kvTier.ToString());
        Assert.True(kvTier.GetProperty("blocks").GetProperty("device").GetInt64() > 0, kvTier.ToString());
    }
}
