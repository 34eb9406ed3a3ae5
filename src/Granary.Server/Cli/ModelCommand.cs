using System.CommandLine;
using Granary.Abstractions;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Synthesis;
using Granary.Model.Training;

namespace Granary.Server.Cli;

/// <summary>`granary model synth`: write a random-weight model in Hugging Face layout; `granary model train`: train the default target/draft pair.</summary>
internal static class ModelCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("model", "Make and inspect model folders");
        command.Subcommands.Add(Synth(stdout));
        command.Subcommands.Add(Train(stdout, stderr));
        command.Subcommands.Add(VocabTrimCommand.Create(stdout));
        return command;
    }

    static Command Synth(TextWriter stdout)
    {
        var defaults = new SynthesisOptions();
        var outDir = new Option<string>("--out", "-o") { Description = "Folder to write", Required = true };
        var arch = new Option<string>("--arch") { Description = "llama, mistral or qwen2", DefaultValueFactory = _ => "llama" };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => defaults.NumLayers };
        var hidden = new Option<int>("--hidden") { DefaultValueFactory = _ => defaults.HiddenSize };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => defaults.NumHeads };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Default: as many as --heads, capped at 2" };
        var intermediate = new Option<int?>("--intermediate") { Description = "MLP width (default: about 8/3 of --hidden)" };
        var vocab = new Option<int>("--vocab") { DefaultValueFactory = _ => defaults.VocabSize };
        var maxPosition = new Option<int>("--max-position") { DefaultValueFactory = _ => defaults.MaxPositionEmbeddings };
        var tie = new Option<bool>("--tie-embeddings") { Description = "Share the embedding and LM head weights" };
        var dtype = new Option<string>("--dtype") { Description = "fp32, bf16 or fp16", DefaultValueFactory = _ => "fp32" };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var shardMb = new Option<double?>("--shard-size-mb") { Description = "Split weights into shards of at most this size, with an index" };
        var command = new Command("synth", "Write a random-weight model (Hugging Face layout) with a trained byte-level BPE tokenizer")
        {
            outDir, arch, layers, hidden, heads, kvHeads, intermediate, vocab, maxPosition, tie, dtype, seed, shardMb,
        };
        command.SetAction(parse =>
        {
            int numHeads = parse.GetValue(heads);
            int hiddenSize = parse.GetValue(hidden);
            var options = new SynthesisOptions
            {
                Architecture = ParseArchitecture(parse.GetValue(arch)!),
                NumLayers = parse.GetValue(layers),
                HiddenSize = hiddenSize,
                NumHeads = numHeads,
                NumKvHeads = parse.GetValue(kvHeads) ?? Math.Min(numHeads, 2),
                IntermediateSize = parse.GetValue(intermediate) ?? Math.Max(1, hiddenSize * 8 / 3),
                VocabSize = parse.GetValue(vocab),
                MaxPositionEmbeddings = parse.GetValue(maxPosition),
                TieWordEmbeddings = parse.GetValue(tie),
                DType = RunDType.Parse(parse.GetValue(dtype)!, "--dtype"),
                Seed = parse.GetValue(seed),
                MaxShardBytes = parse.GetValue(shardMb) is { } mb ? (long)(mb * 1024 * 1024) : null,
            };
            string dir = parse.GetValue(outDir)!;
            var config = ModelSynthesizer.Synthesize(dir, options);
            stdout.WriteLine($"wrote {config.Architecture.HfName()} with {config.NumParameters() / 1e6:F2}M parameters to {dir}");
            return GranaryCli.ExitOk;
        });
        return command;
    }

    static Command Train(TextWriter stdout, TextWriter stderr)
    {
        var defaults = new TrainingOptions();
        var outDir = new Option<string>("--out", "-o") { Description = "Folder to write target/, draft/ and metrics.json into", Required = true };
        var corpus = new Option<string>("--corpus") { Description = "Folder of .py sources", DefaultValueFactory = _ => TrainingOptions.DefaultCorpusRoot };
        var smoke = new Option<bool>("--smoke") { Description = "Seconds-long run: a few files, tiny models, a few steps (other size flags are ignored)" };
        var target = new Option<string>("--target") { Description = "Target shape LAYERSxHIDDEN/HEADS/KV_HEADS[/INTERMEDIATE]", DefaultValueFactory = _ => defaults.Target.ToString() };
        var draft = new Option<string>("--draft") { Description = "Draft shape, same form; at most 1/4 of the target's FLOPs", DefaultValueFactory = _ => defaults.Draft.ToString() };
        var targetSteps = new Option<int>("--target-steps") { DefaultValueFactory = _ => defaults.TargetSteps };
        var draftSteps = new Option<int>("--draft-steps") { DefaultValueFactory = _ => defaults.DraftSteps };
        var targetLr = new Option<double>("--target-lr") { DefaultValueFactory = _ => defaults.TargetLr };
        var draftLr = new Option<double>("--draft-lr") { DefaultValueFactory = _ => defaults.DraftLr };
        var vocab = new Option<int>("--vocab") { DefaultValueFactory = _ => defaults.VocabSize };
        var context = new Option<int>("--context") { Description = "Training window in tokens", DefaultValueFactory = _ => defaults.Context };
        var batch = new Option<int>("--batch") { Description = "Windows per step", DefaultValueFactory = _ => defaults.BatchSize };
        var heldOut = new Option<double>("--held-out") { Description = "Share of files held out (by a hash of the path)", DefaultValueFactory = _ => defaults.HeldOutFraction };
        var evalTokens = new Option<int>("--eval-tokens") { Description = "Held-out tokens to score", DefaultValueFactory = _ => defaults.EvalTokens };
        var maxFiles = new Option<int?>("--max-files") { Description = "Use only the first N training files (pilots)" };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var distill = new Option<double>("--distill") { Description = "Weight of the KL-to-target term in the draft's loss (0: train the draft on data alone)", DefaultValueFactory = _ => defaults.DistillWeight };
        var reuseTarget = new Option<string?>("--reuse-target") { Description = "Load this target folder from an earlier run with the same options instead of training it again" };
        var command = new Command("train", "Train a target and a draft model with a shared BPE tokenizer on Python sources; write both in Hugging Face layout")
        {
            outDir, corpus, smoke, target, draft, targetSteps, draftSteps, targetLr, draftLr, vocab, context, batch, heldOut, evalTokens, maxFiles, seed, distill, reuseTarget,
        };
        command.SetAction(parse =>
        {
            string corpusRoot = parse.GetValue(corpus)!;
            var options = parse.GetValue(smoke) ? TrainingOptions.Smoke(corpusRoot) : new TrainingOptions
            {
                CorpusRoot = corpusRoot,
                Target = ModelShape.Parse(parse.GetValue(target)!, "--target"),
                Draft = ModelShape.Parse(parse.GetValue(draft)!, "--draft"),
                TargetSteps = parse.GetValue(targetSteps),
                DraftSteps = parse.GetValue(draftSteps),
                TargetLr = parse.GetValue(targetLr),
                DraftLr = parse.GetValue(draftLr),
                VocabSize = parse.GetValue(vocab),
                Context = parse.GetValue(context),
                BatchSize = parse.GetValue(batch),
                HeldOutFraction = parse.GetValue(heldOut),
                EvalTokens = parse.GetValue(evalTokens),
                MaxFiles = parse.GetValue(maxFiles),
            };
            options = options with { Seed = parse.GetValue(seed), ReuseTarget = parse.GetValue(reuseTarget) };
            if (!parse.GetValue(smoke)) options = options with { DistillWeight = parse.GetValue(distill) };
            var report = ModelPairTrainer.Run(parse.GetValue(outDir)!, options, stderr);
            foreach (string line in report.SummaryLines()) stdout.WriteLine(line);
            return GranaryCli.ExitOk;
        });
        return command;
    }

    static ModelArchitecture ParseArchitecture(string name) => name.ToLowerInvariant() switch
    {
        "llama" => ModelArchitecture.Llama,
        "mistral" => ModelArchitecture.Mistral,
        "qwen2" => ModelArchitecture.Qwen2,
        _ => throw new GranaryUserError($"--arch: unknown architecture \"{name}\"; use llama, mistral or qwen2"),
    };
}
