using System.Diagnostics;
using System.Net.Http.Json;
using Granary.Server.Telemetry;
using Granary.Server.Tests.Support;
using Granary.TestKit;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// A server decoding speculatively (the model as its own draft, k fixed by --speculate) exports the router's
/// draft and accepted token counts as vLLM's spec-decode counters.
/// </summary>
public sealed class SpeculationMetricsTests : IAsyncLifetime
{
    const string Model = "metrics-spec";
    static readonly (string, string) ModelLabel = (MetricNames.ModelNameLabel, Model);

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions);
    GranaryServer? _server;

    public async Task InitializeAsync() =>
        _server = await GranaryServer.StartAsync(_model.Path, Model, extraArgs: ["--draft", _model.Path, "--speculate", "3"]);

    public Task DisposeAsync()
    {
        _server?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Draft_and_accepted_tokens_are_counted()
    {
        using var http = new HttpClient { BaseAddress = _server!.HttpAddress, Timeout = TimeSpan.FromMinutes(1) };
        using (var response = await http.PostAsJsonAsync("/v1/completions", new { model = Model, prompt = "def add(a, b):", max_tokens = 24, temperature = 0, ignore_eos = true }))
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());

        // The counters are read with the router's load, once a second.
        var watch = Stopwatch.StartNew();
        PrometheusExposition scrape;
        do
        {
            await Task.Delay(300);
            scrape = PrometheusExposition.Parse(await http.GetStringAsync("/metrics"));
        }
        while ((!scrape.Has(MetricNames.SpecDecodeDraftTokens) || scrape.Sum(MetricNames.SpecDecodeDraftTokens, ModelLabel) == 0)
               && watch.Elapsed < TimeSpan.FromSeconds(20));

        double draft = scrape.Sum(MetricNames.SpecDecodeDraftTokens, ModelLabel);
        double accepted = scrape.Sum(MetricNames.SpecDecodeAcceptedTokens, ModelLabel);
        Assert.True(draft > 0, $"no draft tokens counted:\n{scrape.Text}");
        Assert.InRange(accepted, 1, draft); // the model drafting for itself gets most proposals accepted
    }
}
