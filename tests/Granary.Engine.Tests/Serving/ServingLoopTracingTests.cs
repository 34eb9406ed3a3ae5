using System.Collections.Concurrent;
using System.Diagnostics;
using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Serving;
using Granary.Engine.Tests.Generation;
using static Granary.Engine.Tests.Serving.ServingHarness;

namespace Granary.Engine.Tests.Serving;

/// <summary>Each step is a span linked to the traces of the requests it served.</summary>
public sealed class ServingLoopTracingTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    [Fact]
    public async Task Steps_link_to_the_traces_that_submitted_their_requests()
    {
        var steps = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == StepTracing.SourceName || source.Name == "test",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { if (activity.Source.Name == StepTracing.SourceName) steps.Add(activity); },
        };
        ActivitySource.AddActivityListener(listener);
        using var source = new ActivitySource("test");
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 4, IgnoreEos = true };
        var traces = new List<ActivityTraceId>();

        using (var harness = new ServingHarness(fixture.Loaded))
        {
            var streams = new List<ServingStream>();
            foreach (string prompt in new[] { "def f(x):", "import os" })
            {
                using var request = source.StartActivity("request")!;
                traces.Add(request.TraceId);
                streams.Add(await harness.Loop.SubmitAsync(new GenerationRequest(fixture.Loaded.Tokenizer.Encode(prompt, addBos: true), sampling)));
            }
            foreach (var stream in streams) await ReadAll(stream);
        }

        Assert.NotEmpty(steps);
        var linked = steps.SelectMany(s => s.Links.Select(l => l.Context.TraceId)).ToHashSet();
        Assert.All(traces, trace => Assert.Contains(trace, linked));
        Assert.All(steps, s => Assert.Equal(default, s.ParentSpanId)); // a step is a root span of its own, not a request's child
        Assert.All(steps, s => Assert.True((int)s.GetTagItem("granary.step.sequences")! >= 1));
    }
}
