using System.CommandLine;
using System.Text.Json;
using Granary.Abstractions;
using Granary.Engine.Benchmarks;
using Granary.Engine.KvReuse;
using Granary.Engine.Scheduling;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Granary.Model.Synthesis;

namespace Granary.Server.Cli;

/// <summary>
/// `granary bench agent`: a multi-turn agent workload run three ways at the same device KV budget (no reuse,
/// an LRU prefix cache, Granary's TTL pins and tiers), then the time to restore a long context from host and
/// cxl against computing it again.
/// </summary>
internal static class AgentBenchCommand
{
    /// <summary>The model synthesized when none is named: small enough for a CPU, long enough a context for the restore test.</summary>
    static SynthesisOptions BenchModel => new()
    {
        NumLayers = 4, HiddenSize = 256, NumHeads = 4, NumKvHeads = 2, IntermediateSize = 704, VocabSize = 512,
        MaxPositionEmbeddings = 4096, Seed = 0, InitStd = 0.05,
    };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CliOptions.Model(required: false, "Model folder (without it: a synthesized 4-layer fp32 Llama with a 4,096-token context)");
        var programs = Int("--programs", "Agent programs", 32);
        var turns = Int("--turns", "LLM turns per program (a tool call between two)", 4);
        var systemTokens = Int("--system-tokens", "System prompt tokens, shared by every program", 256);
        var taskTokens = Int("--task-tokens", "Each program's own task tokens", 64);
        var outputTokens = Int("--output-tokens", "Tokens each turn generates", 16);
        var toolTokens = Int("--tool-tokens", "Tokens of each tool result", 32);
        var budgetPrograms = new Option<double>("--kv-budget-programs") { Description = "Device KV budget, in programs' largest contexts (default 4)", DefaultValueFactory = _ => 4 };
        var maxNumSeqs = Int("--max-num-seqs", "Most sequences running at once", 8);
        var blockSize = Int("--block-size", "KV block size of the prefix cache", 16);
        var restoreTokens = new Option<int>("--restore-tokens") { Description = "Context length of the restore measurement (0 skips it)", DefaultValueFactory = _ => 2048 };
        var seed = Int("--seed", "Workload seed", 7);
        var json = CliOptions.Json();
        var command = new Command("agent", "Multi-turn agent programs: JCT without reuse, with an LRU prefix cache, and with Granary's TTL + tiers; restore vs re-prefill")
        {
            model, programs, turns, systemTokens, taskTokens, outputTokens, toolTokens, budgetPrograms, maxNumSeqs, blockSize, restoreTokens, seed, json,
        };
        command.SetAction(parse =>
        {
            var workload = new AgentWorkload
            {
                NumPrograms = parse.GetValue(programs), NumTurns = parse.GetValue(turns), SystemPromptTokens = parse.GetValue(systemTokens),
                TaskTokens = parse.GetValue(taskTokens), OutputTokens = parse.GetValue(outputTokens), ToolResultTokens = parse.GetValue(toolTokens),
                Seed = parse.GetValue(seed),
            };
            if (workload.Validate() is { } problem) throw new GranaryUserError(problem);
            int numSeqs = CliOptions.Positive(parse.GetValue(maxNumSeqs), "--max-num-seqs");
            int block = CliOptions.Positive(parse.GetValue(blockSize), "--block-size");
            int restore = CliOptions.AtLeast(parse.GetValue(restoreTokens), 0, "--restore-tokens");
            double budgetInPrograms = parse.GetValue(budgetPrograms);
            if (budgetInPrograms < 1) throw new GranaryUserError("--kv-budget-programs must be >= 1 (a program must fit)");
            long budget = (long)Math.Ceiling(budgetInPrograms * workload.MaxProgramTokens);
            bool quiet = parse.GetValue(json);
            Action<string> progress = quiet ? _ => { } : stderr.WriteLine;

            using var scratch = new ScratchFolder();
            string? named = parse.GetValue(model);
            string modelDir = named ?? scratch.Sub("model");
            if (named is null) ModelSynthesizer.Synthesize(modelDir, BenchModel);
            using var loaded = ModelLoader.Load(modelDir, new ModelLoadOptions());
            TorchRuntime.FitThreadsToModel(loaded.Model);
            if (workload.MaxProgramTokens > loaded.Config.MaxPositionEmbeddings)
                throw new GranaryUserError($"a program grows to {workload.MaxProgramTokens} tokens but the model's context is {loaded.Config.MaxPositionEmbeddings}; use fewer or shorter turns");
            double unit = AgentBenchmark.MeasurePrefillSeconds(loaded.Model, workload.SystemPromptTokens + workload.TaskTokens);
            workload = workload with { TimeUnitSeconds = unit };
            var scheduler = new SchedulerOptions { MaxNumRunningSequences = numSeqs, MaxNumBatchedTokens = Math.Max(numSeqs, 2048), KvCacheTokenBudget = budget };
            var tiers = new KvReuseOptions
            {
                BlockSize = block,
                HostCapacityBlocks = (int)(4 * budget / block), // host RAM is cheap next to the device: a few times its KV
                CxlCapacityBlocks = (int)(8 * budget / block),
                DefaultToolTtl = TimeSpan.FromSeconds(2 * unit),
            };
            var results = new List<AgentArmResult>();
            foreach (var arm in new[] { AgentArm.NoReuse, AgentArm.Lru, AgentArm.Granary })
            {
                progress($"{AgentBenchReport.ArmName(arm)} ...");
                results.Add(AgentBenchmark.Run(arm, loaded.Model, loaded.Tokenizer, workload, scheduler, tiers, scratch.Sub($"cxl-{arm}")));
            }
            RestoreMeasurement? restored = null;
            if (restore > 0)
            {
                if (restore + 1 > loaded.Config.MaxPositionEmbeddings)
                    throw new GranaryUserError($"--restore-tokens {restore} does not fit the model's {loaded.Config.MaxPositionEmbeddings}-token context");
                progress($"restore of {restore} tokens ...");
                restored = RestoreBenchmark.Measure(loaded.Model, restore, scratch.Sub("cxl-restore"), block);
            }
            var report = AgentBenchReport.From(named ?? "synthesized", workload, budget, numSeqs, results, restored);
            if (quiet) stdout.WriteLine(JsonSerializer.Serialize(report, AgentBenchReport.JsonOptions));
            else report.WriteTable(stdout);
            return GranaryCli.ExitOk;
        });
        return command;
    }

    static Option<int> Int(string name, string description, int defaultValue) =>
        new(name) { Description = $"{description} (default {defaultValue})", DefaultValueFactory = _ => defaultValue };

    /// <summary>A temp folder for the synthesized model and the cxl files, removed at the end.</summary>
    sealed class ScratchFolder : IDisposable
    {
        readonly string _path = Directory.CreateTempSubdirectory("granary-bench-agent-").FullName;

        public string Sub(string name) => Directory.CreateDirectory(Path.Combine(_path, name)).FullName;

        public void Dispose()
        {
            try { Directory.Delete(_path, recursive: true); }
            catch (IOException) { }
        }
    }
}
