using System.CommandLine;
using System.Text.Json;
using Granary.Abstractions;
using Granary.Engine.Benchmarks;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Modeling;
using Granary.Model.Runtime;
using Granary.Grains.Deployments;
using Granary.Server.Benchmarks;
using Granary.Server.Hosting;
using Granary.Server.Models;
using Granary.Server.Serving;
using TorchSharp;

namespace Granary.Server.Cli;

/// <summary>`granary bench SCENARIO`: measurements that compare against a baseline taken in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("bench", "Benchmarks");
        command.Subcommands.Add(Decode(stdout, stderr));
        command.Subcommands.Add(Serve(stdout, stderr));
        command.Subcommands.Add(BenchPipelineCommand.Create(stdout, stderr));
        command.Subcommands.Add(SpecBenchCommand.Create(stdout, stderr));
        command.Subcommands.Add(BenchVocabCommand.Create(stdout, stderr));
        command.Subcommands.Add(BenchSequenceCommand.Create(stdout, stderr));
        command.Subcommands.Add(AgentBenchCommand.Create(stdout, stderr));
        command.Subcommands.Add(BenchLoadCommand.Create(stdout, stderr));
        return command;
    }

    /// <summary>The ~100M-parameter fp32 Llama that `bench decode` synthesizes when no model is named.</summary>
    public static ModelConfig DefaultBenchConfig => new()
    {
        Architecture = ModelArchitecture.Llama,
        VocabSize = 32000,
        HiddenSize = 768,
        IntermediateSize = 2048,
        NumLayers = 8,
        NumHeads = 12,
        NumKvHeads = 4,
        HeadDim = 64,
        MaxPositionEmbeddings = 2048,
        TorchDtype = "float32",
    };

    static Command Decode(TextWriter stdout, TextWriter stderr)
    {
        var model = CliOptions.Model(required: false, "Model folder, or \"default\" for the shipped model (without it: a synthesized ~100M-parameter fp32 Llama, a bandwidth-bound workload)");
        var batchSizes = new Option<int[]>("--batch-sizes") { Description = "Batch sizes to measure", DefaultValueFactory = _ => [1, 4, 16], AllowMultipleArgumentsPerToken = true };
        var steps = new Option<int>("--steps") { Description = "Timed decode steps per batch size", DefaultValueFactory = _ => 24 };
        var dtype = CliOptions.DType();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var command = new Command("decode", "Decode tokens/s at several batch sizes, against the machine's memory bandwidth")
        {
            model, batchSizes, steps, dtype, device, json,
        };
        command.SetAction(parse =>
        {
            int numSteps = CliOptions.Positive(parse.GetValue(steps), "--steps");
            int[] sizes = parse.GetValue(batchSizes) ?? [1, 4, 16];
            foreach (int size in sizes) CliOptions.Positive(size, "--batch-sizes");
            string? dtypeName = parse.GetValue(dtype);
            var options = new ModelLoadOptions(dtypeName is null ? null : RunDType.Parse(dtypeName, "--dtype"), parse.GetValue(device)!);
            string? modelDir = parse.GetValue(model) is { } named ? DefaultModels.ResolveTarget(named) : null;
            using var lm = modelDir is null ? Synthesize(options) : LoadProgressBar.Load(modelDir, options, stderr).Model;
            if (!parse.GetValue(json)) stderr.WriteLine($"measuring memory bandwidth, then decode at batch {string.Join(", ", sizes)} ...");
            var report = DecodeBenchReport.Measure(lm, modelDir ?? "synthesized", sizes, numSteps);
            if (parse.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(report, DecodeBenchReport.JsonOptions));
            else report.WriteTable(stdout);
            return GranaryCli.ExitOk;
        });
        return command;
    }

    static Command Serve(TextWriter stdout, TextWriter stderr)
    {
        var model = CliOptions.Model(required: false, "Model folder, or \"default\" for the shipped model (the default)");
        var clients = new Option<string[]>("--clients")
        {
            Description = "Concurrent streaming clients to measure, e.g. 1,16 or 1 16", DefaultValueFactory = _ => ["1,16"], AllowMultipleArgumentsPerToken = true,
        };
        var requestsPerClient = new Option<int>("--requests-per-client") { Description = "Requests each client sends, one after another", DefaultValueFactory = _ => 4 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens generated per request (EOS is ignored)", DefaultValueFactory = _ => 64 };
        var repeats = new Option<int>("--repeats") { Description = "Runs per client count, taking turns; each count reports its median run", DefaultValueFactory = _ => 3 };
        var dtype = CliOptions.DType();
        var device = CliOptions.Device();
        var json = CliOptions.Json();
        var command = new Command("serve", "Streaming throughput and latency of an in-process silo at several client counts")
        {
            model, clients, requestsPerClient, maxTokens, repeats, dtype, device, json,
        };
        command.SetAction(parse =>
        {
            var invocation = new ServeBenchInvocation(
                DefaultModels.ResolveTarget(parse.GetValue(model)),
                ParseClientCounts(parse.GetValue(clients) ?? []),
                CliOptions.Positive(parse.GetValue(requestsPerClient), "--requests-per-client"),
                CliOptions.Positive(parse.GetValue(maxTokens), "--max-tokens"),
                CliOptions.Positive(parse.GetValue(repeats), "--repeats"),
                parse.GetValue(dtype), parse.GetValue(device)!, parse.GetValue(json));
            return RunServe(invocation, stdout, stderr).GetAwaiter().GetResult();
        });
        return command;
    }

    sealed record ServeBenchInvocation(string ModelDir, int[] ClientCounts, int RequestsPerClient, int MaxTokens, int Repeats, string? DType, string Device, bool Json);

    static async Task<int> RunServe(ServeBenchInvocation invocation, TextWriter stdout, TextWriter stderr)
    {
        if (!File.Exists(Path.Combine(invocation.ModelDir, "config.json")))
            throw new GranaryUserError($"--model: {invocation.ModelDir} is not a model folder (no config.json)");
        CheckPromptsFit(ModelFrontend.Load(new DeploymentOptions { Name = "bench", ModelDirectory = invocation.ModelDir }), invocation.MaxTokens);
        Action<string>? progress = invocation.Json ? null : stderr.WriteLine;
        progress?.Invoke($"starting an in-process silo on {invocation.ModelDir} ...");
        var settings = new Dictionary<string, string?>
        {
            [nameof(GranaryServerOptions.Model)] = invocation.ModelDir,
            [nameof(GranaryServerOptions.Device)] = invocation.Device,
            [nameof(GranaryServerOptions.MaxNumSeqs)] = Math.Max(64, invocation.ClientCounts.Max()).ToString(),
        };
        if (invocation.DType is { } dtype) settings[nameof(GranaryServerOptions.DType)] = dtype;
        await using var server = await InProcessGranary.StartAsync(settings);
        var client = new GatewayCompletionClient(server.Gateway, server.Model);
        var runs = await ServeBenchScenario.RunAsync(client, invocation.ClientCounts, invocation.RequestsPerClient, invocation.MaxTokens, progress,
            repeats: invocation.Repeats);
        var report = ServeBenchReport.From(invocation.ModelDir, server.Model.Name, "in-process ModelGateway (router grain stream)",
            invocation.MaxTokens, invocation.RequestsPerClient, runs, invocation.Repeats);
        if (invocation.Json) stdout.WriteLine(JsonSerializer.Serialize(report, ServeBenchReport.JsonOptions));
        else report.WriteTable(stdout);
        return GranaryCli.ExitOk;
    }

    /// <summary>"1,16" and "1 16" both give [1, 16].</summary>
    static int[] ParseClientCounts(IEnumerable<string> values)
    {
        var counts = values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(v => int.TryParse(v, out int n) && n >= 1 ? n : throw new GranaryUserError($"--clients: \"{v}\" is not a client count >= 1"))
            .Distinct()
            .Order()
            .ToArray();
        return counts.Length > 0 ? counts : throw new GranaryUserError("--clients: name at least one client count");
    }

    // Every request must get exactly --max-tokens tokens: the context may not cut one short.
    static void CheckPromptsFit(ModelFrontend model, int maxTokens)
    {
        int longest = ServeBenchScenario.Prompts.Max(p => model.EncodePrompt(p).Length);
        if (longest + maxTokens > model.ContextLength)
            throw new GranaryUserError(
                $"--max-tokens {maxTokens}: the longest bench prompt ({longest} tokens) plus {maxTokens} exceeds the model's context ({model.ContextLength}); use at most {model.ContextLength - longest}");
    }

    static CausalLm Synthesize(ModelLoadOptions options)
    {
        var dtype = options.DType ?? torch.ScalarType.Float32;
        var network = new LlamaForCausalLM(DefaultBenchConfig, dtype, ModelLoader.ParseDevice(options.Device));
        WeightInitializer.Initialize(network, seed: 0);
        return new CausalLm(network);
    }
}
