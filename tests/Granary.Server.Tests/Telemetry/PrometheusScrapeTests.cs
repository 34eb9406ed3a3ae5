using Granary.Server.Telemetry;
using Granary.Server.Tests.Api;
using Granary.TestKit;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// A real Prometheus scrapes a real server: the vLLM names survive Prometheus' own parser and storage, and the
/// queries a dashboard runs (a token counter, a TTFT quantile over rate()) answer with the requests' numbers.
/// </summary>
public sealed class PrometheusScrapeTests(ServedModelFixture served) : IClassFixture<ServedModelFixture>
{
    const string Model = ServedModelFixture.ModelName;
    const int MaxTokens = 4;
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    static readonly string Selector = $"{{job=\"granary\",{MetricNames.ModelNameLabel}=\"{Model}\"}}";

    [Fact]
    public async Task Prometheus_scrapes_token_counters_and_answers_a_ttft_quantile()
    {
        using var prometheus = new PrometheusServer("granary", [served.Server.HttpAddress]);
        await prometheus.WaitForAsync("up{job=\"granary\"}", up => up == 1, Timeout);

        // Two batches with a scrape between them, so rate() over the window sees the TTFT buckets grow.
        await CompleteAsync(2);
        await prometheus.WaitForAsync(MetricNames.GenerationTokens + Selector, tokens => tokens == 2 * MaxTokens, Timeout);
        await CompleteAsync(2);
        double tokens = await prometheus.WaitForAsync(MetricNames.GenerationTokens + Selector, tokens => tokens == 4 * MaxTokens, Timeout);
        Assert.Equal(4 * MaxTokens, tokens);

        double p50 = await prometheus.WaitForAsync(
            $"histogram_quantile(0.5, sum by (le) (rate({MetricNames.TimeToFirstToken}_bucket{Selector}[1m])))",
            quantile => !double.IsNaN(quantile), Timeout);
        Assert.InRange(p50, 1e-6, 60);
        double requests = (await prometheus.QueryAsync($"{MetricNames.TimeToFirstToken}_count{Selector}")).Single().Value;
        Assert.Equal(4, requests);
    }

    async Task CompleteAsync(int count)
    {
        for (int i = 0; i < count; i++)
            (await served.Http.PostJsonAsync("/v1/completions",
                new { model = Model, prompt = $"def f{i}(x):", max_tokens = MaxTokens, temperature = 0, ignore_eos = true })).Ok();
    }
}
