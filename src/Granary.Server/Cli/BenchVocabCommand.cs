using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Engine.Benchmarks;
using Granary.Model.Configuration;
using Granary.Model.Sharding;
using Granary.Model.Synthesis;

namespace Granary.Server.Cli;

/// <summary>
/// `granary bench vp`: how vocabulary parallelism balances a pipeline whose vocabulary dwarfs its layers
/// (by default a synthesized model with a 128k vocabulary under pp=4): per-shard parameter bytes, modelled
/// peak memory and busy time per step, with and without vp, side by side in one run.
/// </summary>
internal static class BenchVocabCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new Option<string?>("--model") { Description = "A model folder to use instead of synthesizing one" };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Vocabulary of the synthesized model", DefaultValueFactory = _ => 131072 };
        var hiddenSize = new Option<int>("--hidden-size") { Description = "Hidden size of the synthesized model", DefaultValueFactory = _ => 256 };
        var layers = new Option<int>("--layers") { Description = "Decoder layers of the synthesized model", DefaultValueFactory = _ => 8 };
        var plans = new Option<string[]>("--plans") { Description = "Plans to compare", DefaultValueFactory = _ => ["pp=4", "pp=4,vp=4"], AllowMultipleArgumentsPerToken = true };
        var batchSize = new Option<int>("--batch-size") { Description = "Sequences decoding together", DefaultValueFactory = _ => 8 };
        var steps = new Option<int>("--steps") { Description = "Timed decode steps per plan", DefaultValueFactory = _ => 16 };
        var json = CliOptions.Json();
        var command = new Command("vp", "Pipeline balance and decode time with and without vocabulary parallelism (in this process)")
        {
            model, vocabSize, hiddenSize, layers, plans, batchSize, steps, json,
        };
        command.SetAction(parse =>
        {
            var planList = (parse.GetValue(plans) ?? []).Select(p => ParallelPlan.Parse(p, "--plans")).Distinct().ToList();
            if (planList.Count == 0) throw new GranaryUserError("--plans: name at least one plan, e.g. pp=4,vp=4");
            int batch = CliOptions.Positive(parse.GetValue(batchSize), "--batch-size");
            int numSteps = CliOptions.Positive(parse.GetValue(steps), "--steps");
            string? given = parse.GetValue(model);
            if (given is not null && !File.Exists(Path.Combine(given, "config.json")))
                throw new GranaryUserError($"--model: {given} is not a model folder (no config.json)");
            var synthesis = given is null ? SynthesisFor(parse.GetValue(vocabSize), parse.GetValue(hiddenSize), parse.GetValue(layers)) : null;
            string dir = given ?? Path.Combine(Path.GetTempPath(), $"granary-bench-vp-{Guid.NewGuid():N}");
            bool asJson = parse.GetValue(json);
            try
            {
                if (synthesis is not null) ModelSynthesizer.Synthesize(dir, synthesis);
                var config = ModelConfigJson.Load(dir);
                foreach (var plan in planList) ShardSpec.ForPlan(config, plan); // a plan the model cannot take fails here, naming it
                if (synthesis is not null && !asJson) stderr.WriteLine($"synthesized a {synthesis.VocabSize}-token, {synthesis.NumLayers}-layer model in {dir}");
                var runs = planList.Select(plan =>
                {
                    if (!asJson) stderr.WriteLine($"plan {plan} ...");
                    return VocabParallelBenchmark.Measure(dir, plan, batch, promptTokens: 32, numSteps);
                }).ToList();
                var report = VocabBenchReport.From(given ?? $"synthesized (vocab {config.VocabSize}, {config.NumLayers} layers, hidden {config.HiddenSize})", batch, runs);
                if (asJson) stdout.WriteLine(JsonSerializer.Serialize(report, VocabBenchReport.JsonOptions));
                else report.WriteTable(stdout);
            }
            finally
            {
                if (given is null && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
            return GranaryCli.ExitOk;
        });
        return command;
    }

    static SynthesisOptions SynthesisFor(int vocab, int hidden, int layers)
    {
        var options = new SynthesisOptions
        {
            VocabSize = CliOptions.AtLeast(vocab, 300, "--vocab-size"), // what synthesis needs: byte tokens, specials and merges
            HiddenSize = CliOptions.AtLeast(hidden, 16, "--hidden-size"),
            NumLayers = CliOptions.Positive(layers, "--layers"),
            NumHeads = 4,
            NumKvHeads = 2,
            IntermediateSize = hidden * 11 / 4 / 16 * 16,
            MaxPositionEmbeddings = 512,
            Seed = 1,
        };
        if (options.HiddenSize % 4 != 0) throw new GranaryUserError($"--hidden-size {hidden}: must be a multiple of the 4 attention heads");
        return options;
    }
}

/// <summary>What `granary bench vp` reports.</summary>
internal sealed record VocabBenchReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("batch_size")] int BatchSize,
    [property: JsonPropertyName("results")] IReadOnlyList<VocabBenchPlan> Results,
    [property: JsonPropertyName("target_parameter_bytes_max_over_min")] double Target)
{
    /// <summary>Issue 6's acceptance: with vp, the largest shard holds at most 1.1x the parameter bytes of the smallest.</summary>
    public const double TargetRatio = 1.1;

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    [JsonPropertyName("meets_target")]
    public bool? MeetsTarget => Results.Where(r => r.Plan.Contains("vp=", StringComparison.Ordinal)).Select(r => (bool?)(r.ParameterBytesMaxOverMin <= Target)).DefaultIfEmpty(null).Min();

    public static VocabBenchReport From(string model, int batchSize, IReadOnlyList<VocabPlanMeasurement> runs) =>
        new(model, batchSize, runs.Select(r => VocabBenchPlan.From(r, batchSize)).ToList(), TargetRatio);

    public void WriteTable(TextWriter output)
    {
        output.WriteLine($"model {Model}, batch {BatchSize}, shards in this process (busy = each shard's own work per step)");
        foreach (var plan in Results)
        {
            output.WriteLine($"plan {plan.Plan}: {plan.TokensPerSecond:F1} tokens/s in-process, step {plan.StepMs:F2} ms; one device per shard would be bounded at " +
                $"{plan.PipelineBoundTokensPerSecond:F1} tokens/s; parameter bytes max/min {plan.ParameterBytesMaxOverMin:F2}");
            output.WriteLine("  shard                                                     params MB   peak MB   busy ms/step");
            foreach (var shard in plan.Shards)
                output.WriteLine($"  {shard.Shard,-56}  {shard.ParameterBytes / 1e6,9:F1}  {shard.ModelledPeakBytes / 1e6,8:F1}  {shard.BusyMsPerStep,13:F2}");
        }
        if (MeetsTarget is { } met) output.WriteLine($"vp balance target (max/min parameter bytes <= {Target}): {(met ? "met" : "not met")}");
    }
}

internal sealed record VocabBenchPlan(
    [property: JsonPropertyName("plan")] string Plan,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
    [property: JsonPropertyName("step_ms")] double StepMs,
    [property: JsonPropertyName("pipeline_bound_tokens_per_s")] double PipelineBoundTokensPerSecond,
    [property: JsonPropertyName("parameter_bytes_max_over_min")] double ParameterBytesMaxOverMin,
    [property: JsonPropertyName("shards")] IReadOnlyList<VocabBenchShard> Shards)
{
    public static VocabBenchPlan From(VocabPlanMeasurement m, int batchSize) => new(
        m.Plan, Math.Round(m.TokensPerSecond, 1), Math.Round(m.StepMs, 2), Math.Round(m.PipelineBoundTokensPerSecond(batchSize), 1),
        Math.Round(m.ParameterBytesMaxOverMin, 3), m.Shards.Select(VocabBenchShard.From).ToList());
}

internal sealed record VocabBenchShard(
    [property: JsonPropertyName("shard")] string Shard,
    [property: JsonPropertyName("parameter_bytes")] long ParameterBytes,
    [property: JsonPropertyName("kv_bytes")] long KvBytes,
    [property: JsonPropertyName("activation_bytes")] long ActivationBytes,
    [property: JsonPropertyName("modelled_peak_bytes")] long ModelledPeakBytes,
    [property: JsonPropertyName("busy_ms_per_step")] double BusyMsPerStep)
{
    public static VocabBenchShard From(VocabShardMeasurement s) =>
        new(s.Shard, s.ParameterBytes, s.KvBytes, s.ActivationBytes, s.ModelledPeakBytes, Math.Round(s.BusyMsPerStep, 3));
}
