using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Model.Loading;
using Granary.Server.Tests.Api;
using Granary.TestKit;
using Xunit.Abstractions;

namespace Granary.Server.Tests.EndToEnd;

/// <summary>
/// Mid-stream failover as the issue's acceptance asks: three `granary serve --plan pp=3` processes clustered
/// through a real redis-server (two device slots each, so the plan fits again on two), 32 concurrent streaming
/// greedy requests, one silo SIGKILLed (or SIGTERMed) mid-stream. Every request completes with the text a
/// single-device run gives, and the cluster takes new requests afterwards.
/// </summary>
public sealed class FailoverEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    const string Model = "tiny-failover";
    const int NumRequests = 32;
    const int MaxTokens = 160;

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions with { NumLayers = 4, MaxPositionEmbeddings = 1024 });
    RedisClusteredSilos? _cluster;

    IReadOnlyList<GranaryServer> Silos => _cluster!.Silos;

    public async Task InitializeAsync() => _cluster = await RedisClusteredSilos.StartAsync(_model.Path, Model, count: 3, "--plan", "pp=3", "--devices", "2");

    public Task DisposeAsync()
    {
        _cluster?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }

    public enum Victim
    {
        /// <summary>A silo holding a pipeline stage, neither the router's nor the client's.</summary>
        ShardSilo,

        /// <summary>The router's silo (it holds a stage too), not the client's.</summary>
        RouterSilo,

        /// <summary>The router's silo again, stopped the polite way (SIGTERM, as a rollout does): it drains, then leaves.</summary>
        RouterSiloTerminated,
    }

    [Theory]
    [InlineData(Victim.ShardSilo)]
    [InlineData(Victim.RouterSilo)]
    [InlineData(Victim.RouterSiloTerminated)]
    public async Task KillingASiloMidStream_LosesNoRequest_AndEveryTextEqualsTheUndisturbedRun(Victim victimKind)
    {
        string[] prompts = Enumerable.Range(0, NumRequests).Select(i => $"Request {i}: once upon a time").ToArray();
        string[] expected = ReferenceTexts(prompts);
        var (client, victim) = await ChooseSilosAsync(victimKind);
        output.WriteLine($"client silo :{client.SiloPort}, killing :{victim.SiloPort} ({victimKind})");

        using var http = new HttpClient { BaseAddress = client.HttpAddress, Timeout = TimeSpan.FromMinutes(5) };
        var streams = prompts.Select(p => new StreamedCompletion(http, p)).ToList();
        var runs = streams.Select(s => s.RunAsync()).ToList();
        await WaitUntilAsync(() => streams.All(s => s.NumChunks >= 5), "every stream has tokens before the kill");

        var killedAt = Stopwatch.StartNew();
        foreach (var stream in streams) stream.MarkKill();
        if (victimKind == Victim.RouterSiloTerminated) victim.Terminate();
        else victim.Dispose(); // SIGKILL
        await Task.WhenAll(runs);
        output.WriteLine($"all {NumRequests} streams completed {killedAt.Elapsed.TotalSeconds:F1} s after the kill; chunks streamed before it: {string.Join(",", streams.Select(s => s.NumChunksAtKill))}");

        if (streams.Any(s => s.Error is not null))
            foreach (var silo in Silos.Where(s => s != victim))
                output.WriteLine($"--- log of the silo on :{silo.SiloPort} ---\n{silo.Output}");
        for (int i = 0; i < NumRequests; i++)
        {
            var stream = streams[i];
            Assert.True(stream.Error is null, $"request {i}: {stream.Error}");
            Assert.Equal(expected[i], stream.Text);
            Assert.Equal(MaxTokens, stream.CompletionTokens);
        }

        var fresh = await http.PostAsJsonAsync("/v1/completions", new { model = Model, prompt = prompts[0], max_tokens = 8, temperature = 0, ignore_eos = true });
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        output.WriteLine($"a new request was served {killedAt.Elapsed.TotalSeconds:F1} s after the kill");
    }

    /// <summary>The client's silo and the one to kill, from where /v1/cluster says the router and the shards are.</summary>
    async Task<(GranaryServer Client, GranaryServer Victim)> ChooseSilosAsync(Victim victimKind)
    {
        using var http = new HttpClient { BaseAddress = Silos[0].HttpAddress };
        var deployment = (await http.GetFromJsonAsync<JsonElement>("/v1/cluster")).GetProperty("deployments")[0];
        string router = deployment.GetProperty("router").GetString()!;
        var shardSilos = deployment.GetProperty("shards").EnumerateArray().Select(s => s.GetProperty("silo").GetString()!).ToList();
        output.WriteLine($"router {router}; shards on {string.Join(", ", shardSilos)}");
        bool Holds(GranaryServer silo, string address) => address.Contains($"127.0.0.1:{silo.SiloPort}");
        var routerSilo = Silos.Single(s => Holds(s, router));
        bool killsRouter = victimKind != Victim.ShardSilo;
        var victim = killsRouter ? routerSilo : Silos.First(s => s != routerSilo);
        Assert.Contains(shardSilos, address => Holds(victim, address)); // the victim holds a stage
        var client = killsRouter ? Silos.First(s => s != routerSilo) : routerSilo;
        return (client, victim);
    }

    static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        for (int i = 0; i < 1200 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition(), $"timed out waiting until {what}");
    }

    string[] ReferenceTexts(string[] prompts)
    {
        using var reference = ModelLoader.Load(_model.Path, new ModelLoadOptions());
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = MaxTokens, IgnoreEos = true };
        var requests = prompts.Select(p => new GenerationRequest(reference.Tokenizer.Encode(p, addBos: reference.Tokenizer.AddBosToken), sampling)).ToList();
        return new BatchGenerator(reference.Model, reference.Tokenizer).Generate(requests).Results.Select(r => r.Text).ToArray();
    }

    /// <summary>One streaming completion, read as it arrives: its text, its chunk count, its usage or error.</summary>
    sealed class StreamedCompletion(HttpClient http, string prompt)
    {
        readonly StringBuilder _text = new();
        volatile int _numChunks;

        public int NumChunks => _numChunks;

        public int NumChunksAtKill { get; private set; } = -1;

        public string Text => _text.ToString();

        public int CompletionTokens { get; private set; }

        public string? Error { get; private set; }

        public async Task RunAsync()
        {
            string body = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["model"] = Model, ["prompt"] = prompt, ["max_tokens"] = MaxTokens, ["temperature"] = 0, ["ignore_eos"] = true,
                ["stream"] = true, ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true },
            });
            try
            {
                using var response = await http.SendAsync(OpenAiHttp.Request(HttpMethod.Post, "/v1/completions", body, apiKey: null), HttpCompletionOption.ResponseHeadersRead);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Error = $"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}";
                    return;
                }
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                bool done = false;
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                    string data = line["data: ".Length..];
                    if (data == "[DONE]")
                    {
                        done = true;
                        break;
                    }
                    using var chunk = JsonDocument.Parse(data);
                    if (chunk.RootElement.TryGetProperty("error", out var error))
                    {
                        Error = error.ToString();
                        continue;
                    }
                    if (chunk.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                        CompletionTokens = usage.GetProperty("completion_tokens").GetInt32();
                    foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray()) _text.Append(choice.GetProperty("text").GetString());
                    _numChunks++;
                }
                if (!done) Error ??= "the stream ended without [DONE]";
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                Error = $"{e.GetType().Name}: {e.Message}";
            }
        }

        public void MarkKill() => NumChunksAtKill = _numChunks;
    }
}
