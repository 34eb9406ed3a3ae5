using System.CommandLine;
using System.Text.Json;
using Granary.Abstractions;
using Granary.Server.Benchmarks;
using Granary.Server.Hosting;
using Granary.Server.Models;

namespace Granary.Server.Cli;

/// <summary>
/// `granary bench load`: a soak of N concurrent streaming HTTP clients for a fixed time, against an in-process
/// silo (RSS sampled in this process, which holds both) or a server at --url (RSS not measured).
/// </summary>
internal static class BenchLoadCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CliOptions.Model(required: false, "Model folder, or \"default\" for the shipped model (the default); ignored with --url");
        var url = new Option<string?>("--url") { Description = "Base URL of a running server (default: start one in this process)" };
        var servedModel = new Option<string?>("--served-model") { Description = "With --url: the model name to request (default: the first /v1/models lists)" };
        var apiKey = new Option<string?>("--api-key") { Description = "With --url: the API key to send" };
        var clients = new Option<int>("--clients") { Description = "Concurrent streaming clients", DefaultValueFactory = _ => 256 };
        var duration = new Option<int>("--duration") { Description = "Seconds clients keep starting requests", DefaultValueFactory = _ => 60 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens generated per request (EOS is ignored)", DefaultValueFactory = _ => 64 };
        var json = CliOptions.Json();
        var command = new Command("load", "Concurrent streaming clients for a fixed time: errors, TTFT, inter-token latency, RSS growth")
        {
            model, url, servedModel, apiKey, clients, duration, maxTokens, json,
        };
        command.SetAction(parse =>
        {
            var invocation = new LoadInvocation(
                parse.GetValue(url) is { } target ? CheckUrl(target) : null,
                parse.GetValue(url) is null ? DefaultModels.ResolveTarget(parse.GetValue(model)) : null,
                parse.GetValue(servedModel), parse.GetValue(apiKey),
                CliOptions.Positive(parse.GetValue(clients), "--clients"),
                TimeSpan.FromSeconds(CliOptions.Positive(parse.GetValue(duration), "--duration")),
                CliOptions.Positive(parse.GetValue(maxTokens), "--max-tokens"),
                parse.GetValue(json));
            return RunAsync(invocation, stdout, stderr).GetAwaiter().GetResult();
        });
        return command;
    }

    sealed record LoadInvocation(Uri? Url, string? ModelDir, string? ServedModel, string? ApiKey, int Clients, TimeSpan Duration, int MaxTokens, bool Json);

    static async Task<int> RunAsync(LoadInvocation invocation, TextWriter stdout, TextWriter stderr)
    {
        Action<string>? progress = invocation.Json ? null : stderr.WriteLine;
        InProcessGranary? server = null;
        try
        {
            Uri baseUrl;
            string served;
            if (invocation.Url is { } url)
            {
                baseUrl = url;
                served = invocation.ServedModel ?? await FirstServedModelAsync(url, invocation.ApiKey);
            }
            else
            {
                if (!File.Exists(Path.Combine(invocation.ModelDir!, "config.json")))
                    throw new GranaryUserError($"--model: {invocation.ModelDir} is not a model folder (no config.json)");
                progress?.Invoke($"starting an in-process silo on {invocation.ModelDir} ...");
                server = await InProcessGranary.StartAsync(new Dictionary<string, string?>
                {
                    [nameof(GranaryServerOptions.Model)] = invocation.ModelDir,
                    [nameof(GranaryServerOptions.MaxNumSeqs)] = Math.Max(64, invocation.Clients).ToString(),
                    [nameof(GranaryServerOptions.MaxNumWaiting)] = Math.Max(1024, invocation.Clients).ToString(),
                });
                baseUrl = new Uri(server.HttpUrl);
                served = server.Model.Name;
            }
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = invocation.Clients, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
            {
                BaseAddress = new Uri(baseUrl.ToString().TrimEnd('/') + "/"),
                Timeout = Timeout.InfiniteTimeSpan,
            };
            var client = new HttpStreamingClient(http, served, invocation.ApiKey);
            progress?.Invoke($"{invocation.Clients} clients for {invocation.Duration.TotalSeconds:0} s, {invocation.MaxTokens} tokens per request ...");
            var run = await LoadBenchmark.RunAsync(client, invocation.Clients, invocation.Duration, invocation.MaxTokens, LoadBenchmark.CurrentProcessRss);
            var report = LoadBenchReport.From(invocation.ModelDir, server is null ? baseUrl.ToString() : "in-process silo over HTTP (loopback)",
                invocation.Duration, invocation.MaxTokens, run, hasRss: server is not null);
            if (invocation.Json) stdout.WriteLine(JsonSerializer.Serialize(report, LoadBenchReport.JsonOptions));
            else report.WriteTable(stdout);
            return GranaryCli.ExitOk;
        }
        finally
        {
            if (server is not null) await server.DisposeAsync();
        }
    }

    static Uri CheckUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new GranaryUserError($"--url: \"{url}\" is not an http(s) URL like http://127.0.0.1:8000");

    static async Task<string> FirstServedModelAsync(Uri url, string? apiKey)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        try
        {
            using var models = JsonDocument.Parse(await http.GetStringAsync("/v1/models"));
            return models.RootElement.GetProperty("data")[0].GetProperty("id").GetString()
                ?? throw new GranaryUserError($"--url {url}: /v1/models lists no model; name one with --served-model");
        }
        catch (HttpRequestException e)
        {
            throw new GranaryUserError($"--url {url}: no Granary answers there ({e.Message})");
        }
    }
}
