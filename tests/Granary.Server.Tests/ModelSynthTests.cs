using System.Text.Json;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>`granary model synth`: the HF layout it writes, determinism per seed, shards and dtypes.</summary>
public sealed class ModelSynthTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    static readonly string[] Greedy = ["--temperature", "0", "--max-tokens", "12"];
    const string Prompt = "The quick brown fox";

    [Fact]
    public void Synth_WritesTheHuggingFaceLayout()
    {
        string dir = fixture.NewDir("layout");
        var result = Cmd.Ok(["model", "synth", "--out", dir, .. TinyModel.Shape, "--seed", "3"]);

        foreach (string file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(dir, file)), $"{file} missing; folder has {string.Join(", ", Directory.GetFiles(dir).Select(Path.GetFileName))}");
        Assert.False(File.Exists(Path.Combine(dir, "model.safetensors.index.json")));
        Assert.Contains(dir, result.Stdout);

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        var root = config.RootElement;
        Assert.Equal("LlamaForCausalLM", root.GetProperty("architectures")[0].GetString());
        Assert.Equal(1, root.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(32, root.GetProperty("hidden_size").GetInt32());
        Assert.Equal(2, root.GetProperty("num_attention_heads").GetInt32());
        Assert.Equal(400, root.GetProperty("vocab_size").GetInt32());

        // The header of a safetensors file: 8-byte little-endian length, then that much JSON naming the tensors.
        byte[] weights = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));
        long headerLength = BitConverter.ToInt64(weights, 0);
        Assert.InRange(headerLength, 2, weights.Length - 8);
        using var header = JsonDocument.Parse(weights.AsMemory(8, (int)headerLength));
        Assert.True(header.RootElement.TryGetProperty("model.embed_tokens.weight", out _), "no model.embed_tokens.weight in model.safetensors");

        // The tokenizer is a real HF tokenizer.json with the vocabulary the config names (or fewer ids).
        using var tokenizer = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer.json")));
        var ids = tokenizer.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject().Select(p => p.Value.GetInt32()).ToList();
        if (tokenizer.RootElement.TryGetProperty("added_tokens", out var addedTokens))
            ids.AddRange(addedTokens.EnumerateArray().Select(t => t.GetProperty("id").GetInt32()));
        Assert.True(ids.Count > 256, $"only {ids.Count} tokens");
        Assert.InRange(ids.Max(), 256, 399);
    }

    [Fact]
    public void Synth_SameSeedTwice_IsByteIdentical()
    {
        string a = TinyModel.Synth(fixture.NewDir("same-a"), seed: 5);
        string b = TinyModel.Synth(fixture.NewDir("same-b"), seed: 5);

        foreach (string file in new[] { "model.safetensors", "tokenizer.json", "config.json" })
            Assert.True(File.ReadAllBytes(Path.Combine(a, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, file))),
                $"{file} differs between two syntheses with --seed 5");
    }

    [Fact]
    public void Synth_DifferentSeed_GivesDifferentWeightsAndDifferentGreedyTokens()
    {
        string other = TinyModel.Synth(fixture.NewDir("seed2"), seed: 2);

        byte[] seed1 = File.ReadAllBytes(Path.Combine(fixture.ModelDir, "model.safetensors"));
        byte[] seed2 = File.ReadAllBytes(Path.Combine(other, "model.safetensors"));
        Assert.Equal(seed1.Length, seed2.Length);
        Assert.False(seed1.AsSpan().SequenceEqual(seed2), "--seed 1 and --seed 2 wrote identical weights");
        // The tokenizer does not depend on the seed: it is trained on a built-in corpus.
        Assert.Equal(File.ReadAllText(Path.Combine(fixture.ModelDir, "tokenizer.json")), File.ReadAllText(Path.Combine(other, "tokenizer.json")));

        var tokens1 = Cmd.TokenIds(Cmd.GenerateJson(fixture.ModelDir, Prompt, Greedy));
        var tokens2 = Cmd.TokenIds(Cmd.GenerateJson(other, Prompt, Greedy));
        Assert.NotEqual(tokens1, tokens2);
    }

    [Fact]
    public void Synth_Sharded_WritesIndexAndShards_AndGeneratesTheSameTokens()
    {
        // The tiny model is ~150 KB of fp32 weights: 0.05 MB shards make several.
        string sharded = TinyModel.Synth(fixture.NewDir("sharded"), seed: 1, "--shard-size-mb", "0.05");

        Assert.True(File.Exists(Path.Combine(sharded, "model.safetensors.index.json")), "no model.safetensors.index.json");
        Assert.False(File.Exists(Path.Combine(sharded, "model.safetensors")), "a sharded model also has model.safetensors");
        var shards = Directory.GetFiles(sharded, "model-*-of-*.safetensors").Select(f => Path.GetFileName(f)).Order().ToList();
        Assert.True(shards.Count >= 2, $"expected several shards, got: {string.Join(", ", shards)}");
        foreach (var shard in shards)
            Assert.InRange(new FileInfo(Path.Combine(sharded, shard)).Length, 1, (long)(0.05 * 1024 * 1024) + 64 * 1024);

        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(sharded, "model.safetensors.index.json")));
        var mapped = index.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct().Order().ToList();
        Assert.Equal(shards, mapped);

        var single = Cmd.GenerateJson(fixture.ModelDir, Prompt, Greedy);
        var fromShards = Cmd.GenerateJson(sharded, Prompt, Greedy);
        Assert.Equal(Cmd.TokenIds(single), Cmd.TokenIds(fromShards));
        Assert.Equal(Cmd.Text(single), Cmd.Text(fromShards));
    }

    [Theory]
    [InlineData("bf16", "bfloat16")]
    [InlineData("fp16", "float16")]
    public void Synth_HalfPrecision_LoadsAndGenerates(string dtype, string hfName)
    {
        string dir = TinyModel.Synth(fixture.NewDir(dtype), seed: 1, "--dtype", dtype);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))))
            Assert.Equal(hfName, config.RootElement.GetProperty("torch_dtype").GetString());
        // Two bytes a weight: about half the fp32 file.
        long fp32 = new FileInfo(Path.Combine(fixture.ModelDir, "model.safetensors")).Length;
        long half = new FileInfo(Path.Combine(dir, "model.safetensors")).Length;
        Assert.InRange(half, fp32 / 2 - 8192, fp32 / 2 + 8192);

        var json = Cmd.GenerateJson(dir, Prompt, "--temperature", "0", "--max-tokens", "6");
        var tokens = Cmd.TokenIds(json);
        Assert.InRange(tokens.Length, 1, 6);
        Assert.All(tokens, id => Assert.InRange(id, 0, 399));
        Assert.Equal(tokens, Cmd.TokenIds(Cmd.GenerateJson(dir, Prompt, "--temperature", "0", "--max-tokens", "6")));
    }

    [Theory]
    [InlineData("mistral", "MistralForCausalLM")]
    [InlineData("qwen2", "Qwen2ForCausalLM")]
    public void Synth_OtherArchitectures_LoadAndGenerate(string arch, string hfName)
    {
        string dir = TinyModel.Synth(fixture.NewDir(arch), seed: 1, "--arch", arch, "--tie-embeddings");
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))))
        {
            Assert.Equal(hfName, config.RootElement.GetProperty("architectures")[0].GetString());
            Assert.True(config.RootElement.GetProperty("tie_word_embeddings").GetBoolean());
        }
        var json = Cmd.GenerateJson(dir, Prompt, "--temperature", "0", "--max-tokens", "4");
        Assert.InRange(Cmd.TokenIds(json).Length, 1, 4);
        // --chat uses the chat template the synthesizer wrote for this family.
        var chat = Cmd.GenerateJson(dir, Prompt, "--temperature", "0", "--max-tokens", "4", "--chat");
        Assert.True(chat.GetProperty("prompt_tokens").GetInt32() > json.GetProperty("prompt_tokens").GetInt32(),
            "the chat-formatted prompt is not longer than the raw prompt");
    }
}
