using System.Collections.Concurrent;
using System.Diagnostics;
using Granary.Server.Telemetry;
using Granary.Server.Tests.Api;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// A request's trace: the caller's trace context crosses HTTP into the API, and the gateway's <c>generate</c>
/// span joins that trace with the GenAI tags and a first-token event.
/// </summary>
[Collection(GranaryClusterCollection.Name)]
public sealed class TracingTests(GranaryClusterFixture cluster)
{
    static readonly ActivitySource TestSource = new("Granary.Server.Tests.Tracing");

    [Fact]
    public async Task Generate_span_joins_the_callers_trace_with_usage_tags()
    {
        var stopped = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is GranaryTracing.SourceName or "Granary.Server.Tests.Tracing" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Add,
        };
        ActivitySource.AddActivityListener(listener);

        ActivityTraceId traceId;
        using (var caller = TestSource.StartActivity("caller"))
        {
            Assert.NotNull(caller);
            traceId = caller.TraceId;
            (await cluster.Http.PostJsonAsync("/v1/completions",
                new { model = GranaryClusterFixture.ModelName, prompt = "def f(x):", max_tokens = 3, temperature = 0, ignore_eos = true })).Ok();
        }

        var generate = stopped.Where(a => a.TraceId == traceId && a.Source.Name == GranaryTracing.SourceName).ToList();
        var span = Assert.Single(generate);
        Assert.Equal($"generate {GranaryClusterFixture.ModelName}", span.DisplayName);
        Assert.Equal(GranaryClusterFixture.ModelName, span.GetTagItem("gen_ai.request.model"));
        Assert.Equal(3, span.GetTagItem("gen_ai.usage.output_tokens"));
        Assert.True((int)span.GetTagItem("gen_ai.usage.input_tokens")! > 0);
        Assert.Single(span.Events, e => e.Name == "first_token");
        Assert.InRange((double)span.GetTagItem("granary.queue_time_s")!, 0, 60);
        Assert.NotEqual(ActivityStatusCode.Error, span.Status);
    }
}
