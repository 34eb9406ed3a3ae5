using Granary.Server.Telemetry;
using Granary.Server.Tests.Api;
using Granary.Server.Tests.Support;
using Granary.TestKit;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// A sharded deployment (pp=2 on one silo with two device slots): each shard grain reports its own step time under
/// its stage, and every router iteration runs both stages.
/// </summary>
public sealed class ShardStepMetricsTests : IAsyncLifetime
{
    const string Model = "metrics-pp2";
    static readonly (string, string) ModelLabel = (MetricNames.ModelNameLabel, Model);

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions);
    GranaryServer? _server;

    public async Task InitializeAsync() =>
        _server = await GranaryServer.StartAsync(_model.Path, Model, extraArgs: ["--plan", "pp=2", "--devices", "2"]);

    public Task DisposeAsync()
    {
        _server?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Each_stage_reports_its_step_time()
    {
        using var http = new HttpClient { BaseAddress = _server!.HttpAddress, Timeout = TimeSpan.FromMinutes(1) };
        (await http.PostJsonAsync("/v1/completions", new { model = Model, prompt = "def f(x):", max_tokens = 5, ignore_eos = true })).Ok();

        var scrape = PrometheusExposition.Parse(await http.GetStringAsync("/metrics"));

        double routerSteps = scrape.Sum(MetricNames.RouterStepTime + "_count", ModelLabel);
        Assert.True(routerSteps >= 5, scrape.Text);
        // A step flows through the stages as micro-batches: each stage runs every one of them, at least one per step.
        double stage0 = scrape.Sum(MetricNames.ShardStepTime + "_count", ModelLabel, ("stage", "0"), ("rank", "0"));
        double stage1 = scrape.Sum(MetricNames.ShardStepTime + "_count", ModelLabel, ("stage", "1"), ("rank", "0"));
        Assert.True(stage0 >= routerSteps, $"stage 0 ran {stage0} forwards in {routerSteps} router steps");
        Assert.Equal(stage0, stage1);
        Assert.Equal(2, scrape.Find(MetricNames.ShardStepTime + "_count", ModelLabel).Count());
    }
}
