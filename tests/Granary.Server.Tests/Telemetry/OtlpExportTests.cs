using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Granary.Server.Tests.Api;
using Granary.TestKit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Granary.Server.Tests.Telemetry;

/// <summary>
/// With OTEL_EXPORTER_OTLP_ENDPOINT set, a real server pushes metrics and traces over OTLP (here OTLP/HTTP to a
/// receiver in the test): the traces carry the request's <c>generate</c> span and the Orleans grain call to the
/// router, the metrics carry the vLLM instruments.
/// </summary>
public sealed class OtlpExportTests
{
    const string Model = "otlp-tiny";

    [Fact]
    public async Task Metrics_and_traces_reach_the_otlp_endpoint()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        using var model = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions);
        using var server = await GranaryServer.StartAsync(model.Path, Model, new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Address,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        });
        using var http = new HttpClient { BaseAddress = server.HttpAddress, Timeout = TimeSpan.FromMinutes(1) };

        (await http.PostJsonAsync("/v1/completions", new { model = Model, prompt = "def f(x):", max_tokens = 3, ignore_eos = true })).Ok();

        // OTLP is protobuf; span and metric names travel as plain UTF-8 strings inside it.
        await receiver.WaitForAsync("/v1/traces", $"generate {Model}");
        await receiver.WaitForAsync("/v1/traces", "IRouterGrain");
        await receiver.WaitForAsync("/v1/metrics", "vllm_time_to_first_token_seconds");
        await receiver.WaitForAsync("/v1/metrics", "vllm_generation_tokens");
    }

    /// <summary>Accepts OTLP/HTTP posts and keeps their bodies by path.</summary>
    sealed class OtlpReceiver : IAsyncDisposable
    {
        readonly WebApplication _app;
        readonly ConcurrentQueue<(string Path, string Body)> _posts = new();

        OtlpReceiver(WebApplication app) => _app = app;

        public string Address => _app.Urls.Single();

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/{signal}", async (HttpContext context, string signal) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                // Latin-1 keeps every byte, so UTF-8 names inside the protobuf are found as they are.
                receiver._posts.Enqueue(($"/v1/{signal}", Encoding.Latin1.GetString(body.ToArray())));
                return Results.Ok();
            });
            await app.StartAsync();
            return receiver;
        }

        public async Task WaitForAsync(string path, string text)
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                if (_posts.Any(p => p.Path == path && p.Body.Contains(text, StringComparison.Ordinal))) return;
                await Task.Delay(100);
            }
            Assert.Fail($"no OTLP post to {path} contained \"{text}\" within 30 s (posts: {string.Join(", ", _posts.Select(p => $"{p.Path} {p.Body.Length} B"))})");
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
