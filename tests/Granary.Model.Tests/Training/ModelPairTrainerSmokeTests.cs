using Granary.Model.Checkpoints;
using Granary.Model.Loading;
using Granary.Model.Tokenization;
using Granary.Model.Training;
using Granary.TestKit;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Training;

public sealed class ModelPairTrainerSmokeTests
{
    static readonly string[] HfLayout =
    [
        "config.json", CheckpointReader.SingleFileName, TextTokenizer.TokenizerJsonFile, "tokenizer_config.json",
        ModelFolderWriter.GenerationConfigFile,
    ];

    [Fact]
    public void A_smoke_run_writes_a_loadable_target_and_draft_that_share_a_tokenizer_and_learned_something()
    {
        using var corpus = new TempDirectory("granary-corpus");
        WritePythonishCorpus(corpus.Path);
        using var outDir = new TempDirectory("granary-train");
        var options = TrainingOptions.Smoke(corpus.Path) with { HeldOutFraction = 0.25 };

        var report = ModelPairTrainer.Run(outDir.Path, options, TextWriter.Null);

        foreach (string model in new[] { ModelPairTrainer.TargetFolder, ModelPairTrainer.DraftFolder })
            foreach (string file in HfLayout)
                Assert.True(File.Exists(outDir.Combine(model, file)), $"{model}/{file} missing");
        Assert.True(File.Exists(outDir.Combine(TrainingReport.MetricsFile)));
        using var target = ModelLoader.Load(outDir.Combine(ModelPairTrainer.TargetFolder), new ModelLoadOptions(ScalarType.Float32));
        using var draft = ModelLoader.Load(outDir.Combine(ModelPairTrainer.DraftFolder), new ModelLoadOptions(ScalarType.Float32));
        Assert.Equal(target.Config.VocabSize, draft.Config.VocabSize);
        Assert.Equal(target.Tokenizer.VocabSize, draft.Tokenizer.VocabSize);
        Assert.Equal(
            File.ReadAllBytes(outDir.Combine(ModelPairTrainer.TargetFolder, TextTokenizer.TokenizerJsonFile)),
            File.ReadAllBytes(outDir.Combine(ModelPairTrainer.DraftFolder, TextTokenizer.TokenizerJsonFile)));
        Assert.True(target.Config.NumLayers >= 6);
        Assert.True(report.DraftFlopsRatio <= TrainingOptions.MaxDraftFlopsRatio);
        Assert.True(report.Target.Training.FinalLoss < report.Target.Training.InitialLoss, "target loss did not fall");
        Assert.True(report.Draft.Training.FinalLoss < report.Draft.Training.InitialLoss, "draft loss did not fall");
        Assert.InRange(report.GreedyAgreement, 0, 1);
    }

    [Fact]
    public void A_second_run_can_reuse_the_first_runs_target_and_distill_a_new_draft_from_it()
    {
        using var corpus = new TempDirectory("granary-corpus");
        WritePythonishCorpus(corpus.Path);
        using var first = new TempDirectory("granary-train");
        using var second = new TempDirectory("granary-train");
        var options = TrainingOptions.Smoke(corpus.Path) with { HeldOutFraction = 0.25 };
        var firstReport = ModelPairTrainer.Run(first.Path, options with { DistillWeight = 0 }, TextWriter.Null);

        var log = new StringWriter();
        var secondReport = ModelPairTrainer.Run(second.Path,
            options with { DistillWeight = 0.75, ReuseTarget = first.Combine(ModelPairTrainer.TargetFolder) }, log);

        Assert.Contains("target: reused", log.ToString());
        Assert.Equal(
            File.ReadAllBytes(first.Combine(ModelPairTrainer.TargetFolder, CheckpointReader.SingleFileName)),
            File.ReadAllBytes(second.Combine(ModelPairTrainer.TargetFolder, CheckpointReader.SingleFileName)));
        Assert.Equal(firstReport.Target.HeldOut.NatsPerToken, secondReport.Target.HeldOut.NatsPerToken, 6);
        Assert.Equal(firstReport.Target.Training.Seconds, secondReport.Target.Training.Seconds, 6);
        Assert.NotEqual(
            File.ReadAllBytes(first.Combine(ModelPairTrainer.DraftFolder, CheckpointReader.SingleFileName)),
            File.ReadAllBytes(second.Combine(ModelPairTrainer.DraftFolder, CheckpointReader.SingleFileName)));
        Assert.True(secondReport.Draft.Training.FinalLoss < secondReport.Draft.Training.InitialLoss, "distilled draft loss did not fall");
    }

    [Fact]
    public void Reusing_a_target_with_another_tokenizer_is_refused_naming_the_flag()
    {
        using var corpus = new TempDirectory("granary-corpus");
        WritePythonishCorpus(corpus.Path);
        using var first = new TempDirectory("granary-train");
        using var second = new TempDirectory("granary-train");
        var options = TrainingOptions.Smoke(corpus.Path) with { HeldOutFraction = 0.25, TargetSteps = 1, DraftSteps = 1 };
        ModelPairTrainer.Run(first.Path, options, TextWriter.Null);

        var error = Assert.Throws<Granary.Abstractions.GranaryUserError>(() => ModelPairTrainer.Run(second.Path,
            options with { VocabSize = 600, ReuseTarget = first.Combine(ModelPairTrainer.TargetFolder) }, TextWriter.Null));
        Assert.Contains("--reuse-target", error.Message);
    }

    [Fact]
    public void The_held_out_split_depends_only_on_the_path_and_test_folders_are_excluded()
    {
        Assert.Equal(SourceCorpus.IsHeldOut("json/decoder.py", 0.05), SourceCorpus.IsHeldOut("json/decoder.py", 0.05));
        int heldOut = Enumerable.Range(0, 2000).Count(i => SourceCorpus.IsHeldOut($"pkg/module_{i}.py", 0.05));
        Assert.InRange(heldOut, 60, 140);
        Assert.True(SourceCorpus.IsIncluded("json/decoder.py"));
        Assert.False(SourceCorpus.IsIncluded("test/test_json.py"));
        Assert.False(SourceCorpus.IsIncluded("lib2to3/tests/data/bom.py"));
        Assert.False(SourceCorpus.IsIncluded("idlelib/editor.py"));
    }

    // 24 modules rotating through the built-in sample texts, plus a test file the corpus must skip.
    static void WritePythonishCorpus(string root)
    {
        for (int i = 0; i < 24; i++)
        {
            string text = string.Join("\n", Enumerable.Range(0, 3).Select(k => SampleCorpus.Texts[(i + k) % SampleCorpus.Texts.Count]));
            File.WriteAllText(Path.Combine(root, $"module_{i}.py"), text);
        }
        Directory.CreateDirectory(Path.Combine(root, "test"));
        File.WriteAllText(Path.Combine(root, "test", "test_module.py"), "assert False\n");
    }
}
