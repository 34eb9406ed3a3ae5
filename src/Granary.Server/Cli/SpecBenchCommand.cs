using System.CommandLine;
using System.Text.Json;
using Granary.Abstractions;
using Granary.Engine.Benchmarks;
using Granary.Engine.Speculation;
using Granary.Model.Loading;
using Granary.Model.Tokenization;
using Granary.Model.Training;
using Granary.Server.Benchmarks;
using Granary.Server.Models;

namespace Granary.Server.Cli;

/// <summary>
/// `granary bench spec`: plain vs speculative decoding (full draft head, and VocabTrim) of the same greedy
/// requests at several batch sizes, in one process, side by side.
/// </summary>
internal static class SpecBenchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = CliOptions.Model(required: false, "Target model folder, or \"default\" (the default)");
        var draft = new Option<string>("--draft") { Description = "Draft model folder, or \"default\" (the default)", DefaultValueFactory = _ => DefaultModels.Name };
        var speculate = CliOptions.Speculate();
        var fixedK = new Option<bool>("--fixed-k") { Description = "Speculate exactly k tokens every step (no adaptation)" };
        var draftVocab = new Option<int>("--draft-vocab") { Description = "VocabTrim size for the trimmed configuration (0: skip it)", DefaultValueFactory = _ => 2048 };
        var batchSizes = new Option<int[]>("--batch-sizes") { Description = "Batch sizes to measure", DefaultValueFactory = _ => [1, 4, 16], AllowMultipleArgumentsPerToken = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens generated per request", DefaultValueFactory = _ => 128 };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per configuration and batch size (median reported)", DefaultValueFactory = _ => 3 };
        var json = CliOptions.Json();
        var command = new Command("spec", "Speculative vs plain decoding tokens/s, acceptance and peak memory at several batch sizes")
        {
            model, draft, speculate, fixedK, draftVocab, batchSizes, maxTokens, repeats, json,
        };
        command.SetAction(parse =>
        {
            int k = CliOptions.InRange(parse.GetValue(speculate), 1, 32, "--speculate");
            int vocab = CliOptions.AtLeast(parse.GetValue(draftVocab), 0, "--draft-vocab");
            int[] sizes = parse.GetValue(batchSizes) ?? [1, 4, 16];
            foreach (int size in sizes) CliOptions.Positive(size, "--batch-sizes");
            int numTokens = CliOptions.Positive(parse.GetValue(maxTokens), "--max-tokens");
            int numRepeats = CliOptions.Positive(parse.GetValue(repeats), "--repeats");
            string targetDir = DefaultModels.ResolveTarget(parse.GetValue(model));
            string draftDir = DefaultModels.ResolveDraft(parse.GetValue(draft));
            bool quiet = parse.GetValue(json);
            using var loaded = LoadProgressBar.Load(targetDir, new ModelLoadOptions(), quiet ? TextWriter.Null : stderr);
            using var fullDraft = DraftLoader.Load(draftDir, new ModelLoadOptions());
            fullDraft.CheckCompatibleWith(loaded.Model);
            using var trimmedDraft = vocab > 0 ? DraftLoader.Load(draftDir, new ModelLoadOptions(), vocab) : null;
            var prompts = Prompts(loaded.Tokenizer, loaded.Config.MaxPositionEmbeddings - numTokens);
            var configs = new List<SpeculationBenchConfig> { new(SpecBenchReport.Plain, null), new(SpecBenchReport.Speculative, fullDraft) };
            if (trimmedDraft is not null) configs.Add(new(SpecBenchReport.VocabTrim, trimmedDraft));
            var options = new SpeculationOptions { NumSpeculativeTokens = k, IsAdaptive = !parse.GetValue(fixedK) };
            var measurements = SpeculationBenchmark.Measure(loaded.Model, loaded.Tokenizer, configs, prompts, sizes, numTokens, options, numRepeats,
                quiet ? null : stderr.WriteLine);
            double? coverage = vocab > 0 ? VocabTrimCalibration.Load(draftDir, "--draft-vocab").Coverage(vocab) : null;
            var report = SpecBenchReport.From(targetDir, draftDir, k, options.IsAdaptive, vocab, coverage is { } c ? Math.Round(c, 4) : null, numTokens, numRepeats, measurements);
            if (quiet) stdout.WriteLine(JsonSerializer.Serialize(report, SpecBenchReport.JsonOptions));
            else report.WriteTable(stdout);
            return GranaryCli.ExitOk;
        });
        return command;
    }

    /// <summary>
    /// Openings of held-out Python files when the training corpus is on this machine (what the default pair
    /// models), else the serve benchmark's prompts; each at most <paramref name="maxPromptTokens"/> tokens.
    /// </summary>
    static IReadOnlyList<IReadOnlyList<int>> Prompts(TextTokenizer tokenizer, int maxPromptTokens)
    {
        if (maxPromptTokens < 1) throw new GranaryUserError("--max-tokens leaves no room for a prompt in the model's context");
        IEnumerable<string> texts = Directory.Exists(TrainingOptions.DefaultCorpusRoot)
            ? SourceCorpus.Load(TrainingOptions.DefaultCorpusRoot, new TrainingOptions().HeldOutFraction).HeldOut
                .Select(f => f.Text).Where(t => t.Length >= 400).Take(16).Select(t => t[..400])
            : ServeBenchScenario.Prompts;
        return texts.Select(t => (IReadOnlyList<int>)tokenizer.Encode(t, addBos: tokenizer.AddBosToken).Take(Math.Min(64, maxPromptTokens)).ToArray()).ToList();
    }
}
