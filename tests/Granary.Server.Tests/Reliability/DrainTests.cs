using System.Net;
using System.Text;
using System.Text.Json;
using Granary.Server.Tests.Api;
using Granary.TestKit;

namespace Granary.Server.Tests.Reliability;

/// <summary>
/// SIGTERM to a real `granary serve` while it streams: readiness turns 503 and new requests are refused with
/// a retryable 503, every stream in flight still runs to its last token, then the process exits cleanly.
/// </summary>
public sealed class DrainTests : IAsyncLifetime
{
    const string Model = "tiny-drain";
    const int NumStreams = 8;
    const int MaxTokens = 3000;

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions with { MaxPositionEmbeddings = 8192 });
    GranaryServer? _server;

    public async Task InitializeAsync() =>
        _server = await GranaryServer.StartAsync(_model.Path, Model, extraArgs: ["--shutdown-grace-seconds", "120"]);

    public Task DisposeAsync()
    {
        _server?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Sigterm_DuringStreams_RefusesNewRequests_AndFinishesEveryStream()
    {
        var server = _server!;
        using var http = new HttpClient { BaseAddress = server.HttpAddress, Timeout = TimeSpan.FromMinutes(3) };
        string body = $$$"""
            {"model": "{{{Model}}}", "prompt": "Once upon a time", "max_tokens": {{{MaxTokens}}}, "temperature": 0, "ignore_eos": true,
             "stream": true, "stream_options": {"include_usage": true}}
            """;
        // Headers arrive with the first token: every stream is running when the signal comes.
        var streams = new List<HttpResponseMessage>();
        for (int i = 0; i < NumStreams; i++)
        {
            var response = await http.SendAsync(OpenAiHttp.Request(HttpMethod.Post, "/v1/completions", body, apiKey: null), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            streams.Add(response);
        }
        var reads = streams.Select(r => r.Content.ReadAsStringAsync()).ToList();

        server.Terminate();

        await WaitUntilNotReadyAsync(http);
        var refused = await http.PostRawAsync("/v1/completions", $$"""{"model": "{{Model}}", "prompt": "Hi", "max_tokens": 2}""");
        OpenAiHttp.AssertError(refused, HttpStatusCode.ServiceUnavailable, null, "server_shutting_down");

        foreach (var read in reads)
        {
            var events = OpenAiHttp.ParseEvents(await read);
            Assert.Equal("[DONE]", events[^1]);
            var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement).ToList();
            Assert.DoesNotContain(chunks, c => c.TryGetProperty("error", out _));
            Assert.Equal(MaxTokens, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Contains(chunks, c => c.GetProperty("choices").EnumerateArray().Any(choice =>
                choice.TryGetProperty("finish_reason", out var reason) && reason.GetString() == "length"));
        }
        foreach (var stream in streams) stream.Dispose();

        int? exitCode = await server.WaitForExitAsync(TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"granary serve exited with {exitCode?.ToString() ?? "nothing (still running)"}\n{server.Output}");
        Assert.Contains(server.Output.Lines, line => line.Contains("Drained"));
    }

    /// <summary>Readiness turns 503 as soon as the drain starts (a moment after the signal is handled).</summary>
    static async Task WaitUntilNotReadyAsync(HttpClient http)
    {
        for (int i = 0; i < 200; i++)
        {
            using var ready = await http.GetAsync("/health/ready");
            if (ready.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Assert.Contains("draining", await ready.Content.ReadAsStringAsync());
                return;
            }
            await Task.Delay(50);
        }
        Assert.Fail("readiness never turned 503 after SIGTERM");
    }
}
