using System.Security.Cryptography;
using System.Text.Json;
using Granary.Model.Loading;
using Granary.Model.Training;
using Granary.Server.Models;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>The model pair shipped in models/default: intact, consistent, and what `--model default` means.</summary>
public sealed class DefaultModelTests
{
    static string DefaultRoot => Path.GetDirectoryName(DefaultModels.ResolveTarget(null))!;

    [Fact]
    public void Every_shipped_file_matches_the_manifest()
    {
        string manifest = Path.Combine(DefaultRoot, "MANIFEST.sha256");
        Assert.True(File.Exists(manifest), $"{manifest} is missing");
        var entries = File.ReadAllLines(manifest).Where(l => l.Length > 0)
            .Select(l => (Hash: l[..64], File: l[66..])).ToList();
        Assert.Contains(entries, e => e.File == "target/model.safetensors");
        Assert.Contains(entries, e => e.File == "draft/model.safetensors");
        foreach (var (hash, file) in entries)
        {
            string path = Path.Combine(DefaultRoot, file);
            Assert.True(File.Exists(path), $"models/default/{file} is missing: the checkout is incomplete");
            using var stream = File.OpenRead(path);
            string actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            Assert.True(actual == hash, $"models/default/{file} does not match MANIFEST.sha256 (truncated or modified checkout?)");
        }
    }

    [Fact]
    public void Target_and_draft_share_one_tokenizer_and_the_draft_costs_at_most_a_quarter_of_the_target()
    {
        using var target = ModelLoader.Load(DefaultModels.ResolveTarget(DefaultModels.Name), new ModelLoadOptions());
        using var draft = ModelLoader.Load(DefaultModels.ResolveDraft(DefaultModels.Name), new ModelLoadOptions());
        Assert.Equal(File.ReadAllBytes(Path.Combine(target.Directory, "tokenizer.json")),
                     File.ReadAllBytes(Path.Combine(draft.Directory, "tokenizer.json")));
        Assert.Equal(target.Config.VocabSize, draft.Config.VocabSize);
        Assert.Equal(target.Tokenizer.VocabSize, draft.Tokenizer.VocabSize);
        Assert.True(target.Config.NumLayers >= 6);
        double ratio = ModelCost.ForwardFlopsPerToken(draft.Config, 256) / ModelCost.ForwardFlopsPerToken(target.Config, 256);
        Assert.True(ratio <= 0.25, $"the draft costs {ratio:P0} of the target's FLOPs per token");
    }

    [Fact]
    public void The_recorded_figures_meet_the_bar_and_the_draft_agrees_with_the_target_on_held_out_python()
    {
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(DefaultRoot, "metrics.json")));
        var root = metrics.RootElement;
        Assert.True(root.GetProperty("target_gain_over_unigram").GetDouble() >= 0.40, "target bits/byte must be >= 40% below unigram");
        double recordedAgreement = root.GetProperty("greedy_agreement").GetDouble();
        Assert.True(recordedAgreement >= 0.6, $"recorded draft-target agreement {recordedAgreement:F3} < 0.6");

        // Re-measure agreement on the first held-out windows with the shipped files, so the figure is not just a number in a file.
        Assert.True(Directory.Exists(TrainingOptions.DefaultCorpusRoot), $"{TrainingOptions.DefaultCorpusRoot} (the training corpus) is missing on this machine");
        using var target = ModelLoader.Load(DefaultModels.ResolveTarget(null), new ModelLoadOptions());
        using var draft = ModelLoader.Load(DefaultModels.ResolveDraft(null), new ModelLoadOptions());
        var heldOut = SourceCorpus.Load(TrainingOptions.DefaultCorpusRoot, 0.05).HeldOut;
        int eos = target.Config.EosTokenIds[0];
        int[] tokens = heldOut.SelectMany(f => target.Tokenizer.Encode(f.Text, addBos: false).Append(eos)).Take(4 * 256 + 1).ToArray();
        int[] starts = [0, 256, 512, 768];
        using var batch = SequenceBatch.FromWindows(tokens, starts, 256);
        using var noGrad = TorchSharp.torch.no_grad();
        using var targetGreedy = batch.Logits(target.Model.Network).argmax(-1);
        using var draftGreedy = batch.Logits(draft.Model.Network).argmax(-1);
        double agreement = targetGreedy.eq(draftGreedy).to(TorchSharp.torch.ScalarType.Float32).mean().item<float>();
        Assert.True(agreement >= 0.6, $"draft-target greedy agreement on 1024 held-out positions is {agreement:F3}");
    }

    [Fact]
    public void Generate_without_a_model_uses_the_shipped_target_and_continues_python()
    {
        var json = Cmd.Run("generate", "--prompt", "def fibonacci(n):", "--max-tokens", "24", "--temperature", "0", "--json").Json();
        string text = json.GetProperty("text").GetString()!;
        Assert.Equal(24, json.GetProperty("token_ids").GetArrayLength());
        Assert.DoesNotContain('\uFFFD', text);
        Assert.Matches(@"\n\s+\S", text); // an indented body: the model learned Python's shape
        var again = Cmd.Run("generate", "--model", "default", "--prompt", "def fibonacci(n):", "--max-tokens", "24", "--temperature", "0", "--json").Json();
        Assert.Equal(text, again.GetProperty("text").GetString());
    }
}
