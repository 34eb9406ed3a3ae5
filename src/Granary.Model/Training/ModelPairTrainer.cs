using System.Diagnostics;
using Granary.Abstractions;
using Granary.Model.Checkpoints;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Modeling;
using Granary.Model.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Training;

/// <summary>
/// Trains a target and a draft model sharing one byte-level BPE tokenizer on a source corpus, writes both
/// as Hugging Face folders OUT/target and OUT/draft, scores them on the held-out files against a unigram
/// baseline, and writes OUT/metrics.json.
/// </summary>
public static class ModelPairTrainer
{
    public const string TargetFolder = "target";
    public const string DraftFolder = "draft";

    public static TrainingReport Run(string outDir, TrainingOptions options, TextWriter log)
    {
        if (options.Validate() is { } problem) throw new GranaryUserError(problem);
        if (File.Exists(outDir)) throw new GranaryUserError($"--out {outDir} is a file; name a folder");
        NativeHeapTuning.KeepFreedMemoryForReuse();
        var clock = Stopwatch.StartNew();
        var corpus = SourceCorpus.Load(options.CorpusRoot, options.HeldOutFraction, options.MaxFiles);
        if (corpus.Training.Count == 0 || corpus.HeldOut.Count == 0)
            throw new GranaryUserError($"--corpus: {options.CorpusRoot} needs .py files in both the training and held-out split");
        log.WriteLine($"corpus: {corpus.Training.Count} training files, {corpus.HeldOut.Count} held-out files ({clock.Elapsed.TotalSeconds:F0}s)");

        var specials = SpecialTokenSet.For(ChatTemplateFamily.Llama3);
        var bpe = ByteLevelBpeTrainer.Train(corpus.Training.Select(f => f.Text), options.VocabSize, specials.All);
        string targetDir = Path.Combine(outDir, TargetFolder), draftDir = Path.Combine(outDir, DraftFolder);
        foreach (var dir in new[] { targetDir, draftDir })
        {
            Directory.CreateDirectory(dir);
            ModelFolderWriter.WriteTokenizer(dir, bpe, specials);
        }
        // Encode with the tokenizer as written, so training sees exactly the ids Granary will produce.
        var tokenizer = TextTokenizer.Load(targetDir);
        int bosId = bpe.SpecialTokenId(specials.Bos), eosId = bpe.SpecialTokenId(specials.Eos);
        var training = TokenStream.Encode(corpus.Training, tokenizer, bpe, eosId);
        var heldOut = TokenStream.Encode(corpus.HeldOut, tokenizer, bpe, eosId);
        log.WriteLine($"tokenizer: vocab {bpe.VocabSize}; {training.Count} training tokens, {heldOut.Count} held-out tokens ({clock.Elapsed.TotalSeconds:F0}s)");

        var targetConfig = options.Target.ToConfig(bpe.VocabSize, options.Context, bosId, eosId);
        var draftConfig = options.Draft.ToConfig(bpe.VocabSize, options.Context, bosId, eosId);
        double targetFlops = ModelCost.ForwardFlopsPerToken(targetConfig, options.Context);
        double draftFlops = ModelCost.ForwardFlopsPerToken(draftConfig, options.Context);
        if (draftFlops > TrainingOptions.MaxDraftFlopsRatio * targetFlops)
            throw new GranaryUserError($"--draft: {options.Draft} costs {draftFlops / targetFlops:P0} of the target's FLOPs per token; at most {TrainingOptions.MaxDraftFlopsRatio:P0} allowed");

        var (target, targetTraining) = options.ReuseTarget is { } reuse
            ? ReuseTrainedTarget(reuse, targetDir, targetConfig, log)
            : TrainTarget(targetConfig, training, options, targetDir, log);
        using var targetScope = target;
        using var draft = NewNetwork(draftConfig, options.Seed + 1);
        var draftPlan = options.PlanFor(options.DraftSteps, options.DraftLr, options.Seed + 1) with
        {
            Teacher = options.DistillWeight > 0 ? target : null,
            DistillWeight = options.DistillWeight,
        };
        var draftTraining = CausalLmTrainer.Train(draft, training, draftPlan, "draft", log);
        ModelFolderWriter.WriteModel(draftDir, draft);

        var windows = new HeldOutWindows(heldOut, options.Context, options.EvalTokens);
        int windowsPerBatch = options.BatchSize;
        var targetEval = ModelEvaluator.Evaluate(target, windows, windowsPerBatch);
        var draftEval = ModelEvaluator.Evaluate(draft, windows, windowsPerBatch);
        var report = new TrainingReport(corpus.Training.Count, corpus.HeldOut.Count, training.Count, heldOut.Count,
            windows.NumTargets, windows.NumBytes, UnigramBaseline.Evaluate(training, windows, bpe.VocabSize),
            new TrainedModelReport(targetDir, targetConfig, targetFlops, targetTraining, targetEval.Score),
            new TrainedModelReport(draftDir, draftConfig, draftFlops, draftTraining, draftEval.Score),
            draftEval.AgreementWith(targetEval));
        report.Write(outDir);
        log.WriteLine($"done in {clock.Elapsed.TotalMinutes:F1} min");
        return report;
    }

    static (LlamaForCausalLM, TrainingResult) TrainTarget(ModelConfig config, TokenStream training, TrainingOptions options,
        string targetDir, TextWriter log)
    {
        var target = NewNetwork(config, options.Seed);
        var result = CausalLmTrainer.Train(target, training, options.PlanFor(options.TargetSteps, options.TargetLr, options.Seed), "target", log);
        ModelFolderWriter.WriteModel(targetDir, target);
        return (target, result);
    }

    /// <summary>
    /// Loads a target trained by an earlier run instead of training it again. Its tokenizer and shape must be
    /// the ones this run would train; its training figures come from the earlier run's metrics.json when present.
    /// </summary>
    static (LlamaForCausalLM, TrainingResult) ReuseTrainedTarget(string reuseDir, string targetDir, ModelConfig config, TextWriter log)
    {
        string tokenizerFile = TextTokenizer.TokenizerJsonFile;
        if (File.ReadAllText(Path.Combine(reuseDir, tokenizerFile)) != File.ReadAllText(Path.Combine(targetDir, tokenizerFile)))
            throw new GranaryUserError($"--reuse-target: {reuseDir}/{tokenizerFile} differs from the tokenizer this run trained (different corpus or options?)");
        var loaded = ModelLoader.Load(reuseDir, new ModelLoadOptions(ScalarType.Float32));
        if (!SameShape(loaded.Config, config))
        {
            loaded.Dispose();
            throw new GranaryUserError($"--reuse-target: {reuseDir} has a different shape than --target");
        }
        foreach (var file in Directory.GetFiles(reuseDir))
            if (Path.GetFileName(file) is not ("tokenizer.json" or "tokenizer_config.json"))
                File.Copy(file, Path.Combine(targetDir, Path.GetFileName(file)), overwrite: true);
        var earlier = TrainingReport.ReadTargetTraining(Path.Combine(reuseDir, "..", TrainingReport.MetricsFile));
        log.WriteLine($"target: reused {reuseDir}" + (earlier is null ? "" : $" (trained {earlier.Steps} steps in {earlier.Seconds / 60:F1} min)"));
        return (loaded.Model.Network, earlier ?? new TrainingResult(0, 0, double.NaN, double.NaN, 0));
    }

    static bool SameShape(ModelConfig a, ModelConfig b) =>
        (a.VocabSize, a.NumLayers, a.HiddenSize, a.NumHeads, a.NumKvHeads, a.IntermediateSize) ==
        (b.VocabSize, b.NumLayers, b.HiddenSize, b.NumHeads, b.NumKvHeads, b.IntermediateSize);

    /// <summary>A float32 CPU network with seeded HF-style initial weights.</summary>
    static LlamaForCausalLM NewNetwork(ModelConfig config, long seed)
    {
        manual_seed(seed);
        var network = new LlamaForCausalLM(config, ScalarType.Float32, new Device(DeviceType.CPU));
        WeightInitializer.Initialize(network, seed);
        return network;
    }
}
