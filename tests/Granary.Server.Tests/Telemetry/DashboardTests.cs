using System.Text.Json;
using System.Text.RegularExpressions;
using Granary.Server.Tests.Api;
using Granary.Server.Tests.Deployment;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// The Grafana dashboard shipped in the chart queries only metrics a running server exports (so no panel is
/// empty for want of a metric), and has the panels operators look for.
/// </summary>
public sealed partial class DashboardTests(ServedModelFixture served) : IClassFixture<ServedModelFixture>
{
    static JsonElement Dashboard()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(DeploymentTools.Repo("helm", "granary", "dashboards", "granary.json")));
        return document.RootElement.Clone();
    }

    /// <summary>Every PromQL expression: panel targets and template-variable queries.</summary>
    static List<string> Queries(JsonElement dashboard) =>
    [
        .. dashboard.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!),
        .. dashboard.GetProperty("templating").GetProperty("list").EnumerateArray()
            .Where(v => v.TryGetProperty("definition", out _)).Select(v => v.GetProperty("definition").GetString()!),
    ];

    [Fact]
    public async Task Every_metric_the_dashboard_queries_is_exported_by_a_running_server()
    {
        // One request first: a histogram has no series until something is recorded.
        (await served.Http.PostJsonAsync("/v1/completions",
            new { model = ServedModelFixture.ModelName, prompt = "x = ", max_tokens = 3, ignore_eos = true })).Ok();
        // The load gauges appear with the first load sample, about a second after the server is ready.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var scrape = PrometheusExposition.Parse(await served.Http.GetStringAsync("/metrics"));
        while (!scrape.Has(Granary.Server.Telemetry.MetricNames.NumRequestsRunning) && watch.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(200);
            scrape = PrometheusExposition.Parse(await served.Http.GetStringAsync("/metrics"));
        }
        var exported = scrape.Samples.Select(s => s.Name).ToHashSet();

        var queried = Queries(Dashboard()).SelectMany(q => MetricName().Matches(q).Select(m => m.Value)).ToHashSet();

        Assert.True(queried.Count >= 12, $"expected the dashboard to query many metrics, found {string.Join(", ", queried)}");
        var missing = queried.Where(name => !exported.Contains(name)).ToList();
        Assert.True(missing.Count == 0, $"the dashboard queries metrics the server does not export: {string.Join(", ", missing)}");
    }

    [Fact]
    public void The_dashboard_has_the_panels_the_issue_asks_for()
    {
        var titles = Dashboard().GetProperty("panels").EnumerateArray().Select(p => p.GetProperty("title").GetString()!).ToList();
        foreach (string title in new[]
                 {
                     "Time to first token", "Inter-token latency", "Generation throughput", "Requests running / waiting",
                     "KV positions per tier", "Speculative acceptance rate", "Shard step time",
                 })
            Assert.Contains(title, titles);
        Assert.All(Dashboard().GetProperty("panels").EnumerateArray(), p => Assert.NotEmpty(p.GetProperty("targets").EnumerateArray()));
    }

    [Fact]
    public void The_chart_ships_the_same_dashboard_in_its_configmap_for_the_grafana_sidecar()
    {
        string configMap = File.ReadAllText(DeploymentTools.Repo("k8s", "base", "dashboard-configmap.yaml"));
        Assert.Contains("grafana_dashboard: \"1\"", configMap);
        Assert.Contains("\"uid\": \"granary-serving\"", configMap);
    }

    // vLLM names contain ':' (vllm:…); Granary's own start with granary_. Suffixes (_bucket, _total) are part of the name.
    [GeneratedRegex(@"\b(vllm:[a-z0-9_]+|granary_[a-z0-9_]+)")]
    private static partial Regex MetricName();
}
