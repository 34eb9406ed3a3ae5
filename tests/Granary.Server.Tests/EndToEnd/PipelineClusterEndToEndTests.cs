using System.Net.Http.Json;
using System.Text.Json;
using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Model.Loading;
using Granary.TestKit;

namespace Granary.Server.Tests.EndToEnd;

/// <summary>
/// A model too big for one silo, as a user runs it: three `granary serve --plan pp=3` processes clustered
/// through a real redis-server, each holding one pipeline stage, called over HTTP; the answers are the
/// single-device greedy tokens.
/// </summary>
public sealed class PipelineClusterEndToEndTests : IAsyncLifetime
{
    const string Model = "tiny-pp3";

    readonly SynthesizedModelFolder _model = new(SynthesizedModelFolder.SmallOptions with { NumLayers = 4 });
    RedisClusteredSilos? _cluster;

    IReadOnlyList<GranaryServer> Silos => _cluster!.Silos;

    public async Task InitializeAsync() => _cluster = await RedisClusteredSilos.StartAsync(_model.Path, Model, count: 3, "--plan", "pp=3");

    public Task DisposeAsync()
    {
        _cluster?.Dispose();
        _model.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Three_stages_on_three_processes_serve_the_single_device_tokens()
    {
        const string prompt = "def fibonacci(n):";
        string expected = ReferenceText(prompt, maxTokens: 10);

        // Two requests through each process at once: the router's serving lanes (one per stage) take them together.
        var texts = await Task.WhenAll(Silos.SelectMany(silo => Enumerable.Range(0, 2).Select(async _ =>
        {
            using var http = new HttpClient { BaseAddress = silo.HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
            return await Complete(http, prompt, maxTokens: 10);
        })));
        Assert.All(texts, text => Assert.Equal(expected, text));

        using var client = new HttpClient { BaseAddress = Silos[0].HttpAddress };
        var cluster = await client.GetFromJsonAsync<JsonElement>("/v1/cluster");
        var deployment = cluster.GetProperty("deployments")[0];
        Assert.Equal("pp=3", deployment.GetProperty("plan").GetString());
        var shards = deployment.GetProperty("shards").EnumerateArray().ToList();
        Assert.Equal(3, shards.Count);
        Assert.Equal(3, shards.Select(s => s.GetProperty("silo").GetString()).Distinct().Count()); // one stage per process
        Assert.Equal([0, 1, 2], shards.Select(s => s.GetProperty("stage").GetInt32()));
        Assert.Equal(3, deployment.GetProperty("serving_lanes").GetInt32());
    }

    static async Task<string> Complete(HttpClient http, string prompt, int maxTokens)
    {
        using var response = await http.PostAsJsonAsync("/v1/completions", new { model = Model, prompt, max_tokens = maxTokens, temperature = 0, ignore_eos = true });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    string ReferenceText(string prompt, int maxTokens)
    {
        using var reference = ModelLoader.Load(_model.Path, new ModelLoadOptions());
        var ids = reference.Tokenizer.Encode(prompt, addBos: reference.Tokenizer.AddBosToken);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true };
        return new BatchGenerator(reference.Model, reference.Tokenizer).Generate([new GenerationRequest(ids, sampling)]).Results[0].Text;
    }
}
