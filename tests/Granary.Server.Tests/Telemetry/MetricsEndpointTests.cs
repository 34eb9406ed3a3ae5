using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Granary.Server.Telemetry;
using Granary.Server.Tests.Api;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// GET /metrics on a real server after a known set of requests: every vLLM-compatible and Granary metric is
/// there under its exact Prometheus name with the model_name label, and the counts match what was sent.
/// </summary>
public sealed class MetricsEndpointTests(ServedModelFixture served) : IClassFixture<ServedModelFixture>
{
    const string Model = ServedModelFixture.ModelName;
    static readonly (string, string) ModelLabel = (MetricNames.ModelNameLabel, Model);

    [Fact]
    public async Task Scrape_shows_every_metric_with_counts_that_match_the_requests_made()
    {
        int requests = 0, promptTokens = 0, generatedTokens = 0;
        foreach (string prompt in new[] { "def add(a, b):", "import os", "class Tree:" })
        {
            var usage = (await served.Http.PostJsonAsync("/v1/completions",
                new { model = Model, prompt, max_tokens = 6, temperature = 0, ignore_eos = true })).Ok().GetProperty("usage");
            requests++;
            promptTokens += usage.GetProperty("prompt_tokens").GetInt32();
            generatedTokens += usage.GetProperty("completion_tokens").GetInt32();
        }
        var stream = await served.Http.StreamAsync("/v1/chat/completions", JsonSerializer.Serialize(new
        {
            model = Model, messages = new[] { new { role = "user", content = "Say hi" } }, max_tokens = 5, ignore_eos = true,
            stream = true, stream_options = new { include_usage = true },
        }));
        Assert.Equal(HttpStatusCode.OK, stream.Status);
        var streamUsage = stream.JsonEvents.Last().GetProperty("usage");
        requests++;
        promptTokens += streamUsage.GetProperty("prompt_tokens").GetInt32();
        generatedTokens += streamUsage.GetProperty("completion_tokens").GetInt32();
        Assert.Equal(3 * 6 + 5, generatedTokens);

        var scrape = await ScrapeOnceLoadIsSampledIdleAsync();

        foreach (string name in MetricNames.All)
            Assert.True(scrape.Has(name), $"{name} is not in the scrape:\n{scrape.Text}");
        Assert.Equal(requests, scrape.Sum(MetricNames.TimeToFirstToken + "_count", ModelLabel));
        Assert.Equal(requests, scrape.Sum(MetricNames.EndToEndLatency + "_count", ModelLabel));
        Assert.Equal(requests, scrape.Sum(MetricNames.QueueTime + "_count", ModelLabel));
        // One chunk per token: every token after a request's first comes one inter-token interval later.
        Assert.Equal(generatedTokens - requests, scrape.Sum(MetricNames.InterTokenLatency + "_count", ModelLabel));
        Assert.Equal(generatedTokens, scrape.Sum(MetricNames.GenerationTokens, ModelLabel));
        Assert.Equal(promptTokens, scrape.Sum(MetricNames.PromptTokens, ModelLabel));
        Assert.Equal(requests, scrape.Sum(MetricNames.RequestSuccess, ModelLabel, ("finished_reason", "length")));
        Assert.Equal(0, scrape.Sum(MetricNames.RequestSuccess, ModelLabel, ("finished_reason", "stop")));
        Assert.Equal(0, scrape.Sum(MetricNames.SpecDecodeDraftTokens, ModelLabel)); // no drafter configured

        // Latencies are positive and ordered: a request's first token comes before its last.
        double ttftSum = scrape.Sum(MetricNames.TimeToFirstToken + "_sum", ModelLabel);
        double e2eSum = scrape.Sum(MetricNames.EndToEndLatency + "_sum", ModelLabel);
        Assert.InRange(ttftSum, 1e-6, e2eSum);
        Assert.InRange(e2eSum, 1e-6, 60);
        var ttftInf = scrape.Find(MetricNames.TimeToFirstToken + "_bucket", ModelLabel, ("le", "+Inf")).Single();
        Assert.Equal(requests, ttftInf.Value);

        // Nothing is in flight once every response is read (as of the next load sample).
        Assert.Equal(0, scrape.Sum(MetricNames.NumRequestsRunning, ModelLabel));
        Assert.Equal(0, scrape.Sum(MetricNames.NumRequestsWaiting, ModelLabel));
        Assert.InRange(scrape.Sum(MetricNames.KvCacheUsage, ModelLabel), 0, 1);
        Assert.Equal(0, scrape.Sum(MetricNames.KvTierTokens, ModelLabel, ("tier", "device")));
        // Every generated token took a step (prompts may share one), so there were at least as many steps as tokens per request.
        // The router holds the whole model here, so each of its iterations is also the only shard's step.
        double steps = scrape.Sum(MetricNames.RouterStepTime + "_count", ModelLabel);
        Assert.True(steps >= 6, $"{steps} steps for requests of 6 tokens");
        Assert.Equal(steps, scrape.Sum(MetricNames.ShardStepTime + "_count", ModelLabel, ("stage", "0"), ("rank", "0")));
        Assert.Equal("histogram", scrape.Types[MetricNames.TimeToFirstToken]);
    }

    [Fact]
    public async Task Scrape_includes_asp_net_core_and_runtime_metrics_and_no_sanitized_vllm_names()
    {
        var scrape = PrometheusExposition.Parse(await served.Http.GetStringAsync("/metrics"));

        Assert.True(scrape.Has("http_server_request_duration_seconds"), "ASP.NET Core request metrics are missing");
        Assert.Contains(scrape.Samples, s => s.Name.StartsWith("dotnet_", StringComparison.Ordinal));
        Assert.DoesNotContain(scrape.Samples, s => s.Name.StartsWith("vllm_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenMetrics_scrape_as_prometheus_asks_for_it_uses_the_same_names()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        // Prometheus' own scrape headers: OpenMetrics preferred, gzip accepted.
        request.Headers.Accept.ParseAdd("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        using var response = await served.Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();

        Assert.StartsWith("application/openmetrics-text", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("# TYPE vllm:generation_tokens counter", text);
        Assert.DoesNotContain("\nvllm_", text);
    }

    /// <summary>
    /// The load gauges are sampled once a second, so a sample may still show the last request running: scrape until a
    /// sample shows the server idle (or 20 s pass, and the assertions report what the gauges say).
    /// </summary>
    async Task<PrometheusExposition> ScrapeOnceLoadIsSampledIdleAsync()
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var scrape = PrometheusExposition.Parse(await served.Http.GetStringAsync("/metrics"));
            bool isIdle = scrape.Has(MetricNames.NumRequestsRunning)
                          && scrape.Sum(MetricNames.NumRequestsRunning, ModelLabel) == 0
                          && scrape.Sum(MetricNames.KvTierTokens, ModelLabel) == 0;
            if (isIdle || watch.Elapsed > TimeSpan.FromSeconds(20)) return scrape;
            await Task.Delay(200);
        }
    }
}
