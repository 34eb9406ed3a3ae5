using System.Diagnostics;
using Granary.Abstractions;
using Granary.Model.Checkpoints;
using Granary.Model.Configuration;
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

        using var target = NewNetwork(targetConfig, options.Seed);
        var targetTraining = CausalLmTrainer.Train(target, training, options.PlanFor(options.TargetSteps, options.TargetLr, options.Seed), "target", log);
        ModelFolderWriter.WriteModel(targetDir, target);
        using var draft = NewNetwork(draftConfig, options.Seed + 1);
        var draftTraining = CausalLmTrainer.Train(draft, training, options.PlanFor(options.DraftSteps, options.DraftLr, options.Seed + 1), "draft", log);
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

    /// <summary>A float32 CPU network with seeded HF-style initial weights.</summary>
    static LlamaForCausalLM NewNetwork(ModelConfig config, long seed)
    {
        manual_seed(seed);
        var network = new LlamaForCausalLM(config, ScalarType.Float32, new Device(DeviceType.CPU));
        WeightInitializer.Initialize(network, seed);
        return network;
    }
}
