using System.CommandLine;
using System.Text.Json;
using Granary.Engine.Benchmarks;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Modeling;
using Granary.Model.Runtime;
using Granary.Server.Models;
using TorchSharp;

namespace Granary.Server.Cli;

/// <summary>`granary bench SCENARIO`: measurements that compare against a baseline taken in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("bench", "Benchmarks");
        command.Subcommands.Add(Decode(stdout, stderr));
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

    static CausalLm Synthesize(ModelLoadOptions options)
    {
        var dtype = options.DType ?? torch.ScalarType.Float32;
        var network = new LlamaForCausalLM(DefaultBenchConfig, dtype, ModelLoader.ParseDevice(options.Device));
        WeightInitializer.Initialize(network, seed: 0);
        return new CausalLm(network);
    }
}
