using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Model.Configuration;
using Granary.Model.Sharding;
using Granary.Server.Benchmarks;
using Granary.Server.Models;

namespace Granary.Server.Cli;

/// <summary>`granary bench pp`: batched decode with the whole model, then under each plan on loopback silos.</summary>
internal static class BenchPipelineCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CliOptions.Model(required: false, "Model folder, or \"default\" for the shipped model (the default)");
        var plans = new Option<string[]>("--plans") { Description = "Plans to compare with no plan", DefaultValueFactory = _ => ["pp=2", "tp=2"], AllowMultipleArgumentsPerToken = true };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences decoding together", DefaultValueFactory = _ => 16 };
        var steps = new Option<int>("--steps") { Description = "Timed decode steps per plan and round", DefaultValueFactory = _ => 48 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds in which the plans take turns; each reports its median", DefaultValueFactory = _ => 5 };
        var json = CliOptions.Json();
        var command = new Command("pp", "Decode throughput under pipeline / tensor-parallel plans on loopback silos, against no plan")
        {
            model, plans, batchSize, steps, rounds, json,
        };
        command.SetAction(parse =>
        {
            string modelDir = DefaultModels.ResolveTarget(parse.GetValue(model));
            if (!File.Exists(Path.Combine(modelDir, "config.json")))
                throw new GranaryUserError($"--model: {modelDir} is not a model folder (no config.json)");
            var config = ModelConfigJson.Load(modelDir);
            var planList = (parse.GetValue(plans) ?? []).Select(p => ParallelPlan.Parse(p, "--plans")).Where(p => !p.IsSingle).Distinct().ToList();
            if (planList.Count == 0) throw new GranaryUserError("--plans: name at least one plan other than none, e.g. pp=2");
            foreach (var plan in planList) ShardSpec.ForPlan(config, plan); // a plan the model cannot take fails here, naming it
            int batch = CliOptions.Positive(parse.GetValue(batchSize), "--batch-size");
            int numSteps = CliOptions.Positive(parse.GetValue(steps), "--steps");
            int numRounds = CliOptions.Positive(parse.GetValue(rounds), "--rounds");
            bool asJson = parse.GetValue(json);
            var runs = PipelineBenchmark.RunAsync(modelDir, planList, batch, numSteps, numRounds, asJson ? null : stderr.WriteLine, CancellationToken.None).GetAwaiter().GetResult();
            var report = PipelineBenchReport.From(modelDir, runs);
            if (asJson) stdout.WriteLine(JsonSerializer.Serialize(report, PipelineBenchReport.JsonOptions));
            else report.WriteTable(stdout);
            return GranaryCli.ExitOk;
        });
        return command;
    }
}

/// <summary>What `granary bench pp` reports.</summary>
internal sealed record PipelineBenchReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("threads")] int NumThreads,
    [property: JsonPropertyName("blas")] string Blas,
    [property: JsonPropertyName("results")] IReadOnlyList<PipelineBenchRow> Results,
    [property: JsonPropertyName("pp2_ratio")] double? Pp2Ratio,
    [property: JsonPropertyName("target_pp2_ratio")] double TargetPp2Ratio)
{
    /// <summary>Issue 5's acceptance: pp=2 keeps at least 0.9x of the unsharded decode throughput at batch 16.</summary>
    public const double TargetRatio = 0.9;

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    [JsonPropertyName("meets_target")]
    public bool? MeetsTarget => Pp2Ratio is { } ratio ? ratio >= TargetPp2Ratio : null;

    public static PipelineBenchReport From(string model, IReadOnlyList<PipelineBenchRun> runs)
    {
        var rows = runs.Select(PipelineBenchRow.From).ToList();
        // The headline is pp=2 as the router serves it: its first row (its default serving lanes).
        double? pp2 = rows.FirstOrDefault(r => r.Plan == "pp=2")?.RatioToNone;
        return new PipelineBenchReport(model, TorchSharp.torch.get_num_threads(), Granary.Model.Runtime.TorchRuntime.MklStatus, rows, pp2, TargetRatio);
    }

    public void WriteTable(TextWriter output)
    {
        output.WriteLine($"model {Model}, {NumThreads} intra-op thread(s) per shard, silos on loopback in this process; medians over rounds, x none per round");
        output.WriteLine($"BLAS: {Blas}");
        output.WriteLine("plan          lanes  micro-batches   batch  tokens/s  step ms  x none  forward ms  hop ms  stage bytes/token  all-reduce bytes/token");
        foreach (var row in Results)
            output.WriteLine($"{row.Plan,-12}  {row.Lanes,5}  {row.MicroBatches,-14}  {row.BatchSize,5}  {row.TokensPerSecond,8:F1}  {row.StepMs,7:F2}  {row.RatioToNone,6:F2}  {row.MeanForwardMs,10:F2}  " +
                $"{row.MeanHopMs,6:F2}  {row.BytesBetweenStagesPerToken,17:F0}  {row.AllReduceBytesPerToken,22:F0}");
        if (Pp2Ratio is { } ratio)
            output.WriteLine($"pp=2 / none: {ratio:F2}x (target >= {TargetPp2Ratio:F1}x: {(MeetsTarget == true ? "met" : "not met")})");
    }
}

internal sealed record PipelineBenchRow(
    [property: JsonPropertyName("plan")] string Plan,
    [property: JsonPropertyName("lanes")] int Lanes,
    [property: JsonPropertyName("micro_batches")] string MicroBatches,
    [property: JsonPropertyName("batch_size")] int BatchSize,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
    [property: JsonPropertyName("step_ms")] double StepMs,
    [property: JsonPropertyName("ratio_to_none")] double RatioToNone,
    [property: JsonPropertyName("mean_forward_ms")] double MeanForwardMs,
    [property: JsonPropertyName("mean_hop_ms")] double MeanHopMs,
    [property: JsonPropertyName("bytes_between_stages_per_token")] double BytesBetweenStagesPerToken,
    [property: JsonPropertyName("allreduce_bytes_per_token")] double AllReduceBytesPerToken)
{
    public static PipelineBenchRow From(PipelineBenchRun run) => new(
        run.Plan, run.Lanes, run.MicroBatches, run.BatchSize, Math.Round(run.TokensPerSecond, 1), Math.Round(run.StepMs, 2), Math.Round(run.RatioToNone, 3), Math.Round(run.MeanForwardMs, 3), Math.Round(run.MeanHopMs, 3),
        Math.Round(run.BytesBetweenStagesPerToken, 1), Math.Round(run.AllReduceBytesPerToken, 1));
}
