using System.Security.Cryptography;
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
