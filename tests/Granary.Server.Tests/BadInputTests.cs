using System.Text.Json.Nodes;
using Granary.Server.Tests.Support;
using Granary.TestKit;

namespace Granary.Server.Tests;

/// <summary>Models the bad-input tests break in different ways: written once per class.</summary>
public sealed class BadInputFixture : IDisposable
{
    readonly TempDirectory _root = new("granary-cli-bad-input");

    public BadInputFixture()
    {
        ModelDir = TinyModel.Synth(_root.Combine("tiny"), seed: 1);
        BigVocabModelDir = TinyModel.SynthWith(_root.Combine("vocab4000"), "--vocab", "4000", "--seed", "1");
        ShortContextModelDir = TinyModel.Synth(_root.Combine("ctx32"), seed: 1, "--max-position", "32");
    }

    /// <summary>The tiny model: vocab 400, context 2048.</summary>
    public string ModelDir { get; }

    public string BigVocabModelDir { get; }

    /// <summary>The tiny model with a 32-token context.</summary>
    public string ShortContextModelDir { get; }

    public string NewDir(string name) => _root.Combine($"{name}-{Guid.NewGuid():N}");

    /// <summary>A copy of the tiny model to break.</summary>
    public string CopyOfModel(string name)
    {
        string copy = NewDir(name);
        Directory.CreateDirectory(copy);
        foreach (string file in Directory.GetFiles(ModelDir))
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return copy;
    }

    public void Dispose() => _root.Dispose();
}

/// <summary>
/// Every bad input exits non-zero (2) with exactly one stderr line "error: ..." that names the flag or file,
/// no stack trace, and nothing on stdout.
/// </summary>
public sealed class BadInputTests(BadInputFixture fixture) : IClassFixture<BadInputFixture>
{
    CliResult Generate(string modelDir, params string[] extra) =>
        Cmd.Run(["generate", "--model", modelDir, "--prompt", "Hello there", "--max-tokens", "4", .. extra]);

    [Fact]
    public void Generate_MissingModelFolder()
    {
        string missing = fixture.NewDir("does-not-exist");
        Cmd.AssertUserError(Generate(missing), missing);
    }

    [Fact]
    public void Generate_FolderWithoutConfigJson()
    {
        string empty = fixture.NewDir("empty");
        Directory.CreateDirectory(empty);
        Cmd.AssertUserError(Generate(empty), "config.json");
    }

    [Fact]
    public void Generate_ConfigJsonIsNotJson()
    {
        string dir = fixture.CopyOfModel("bad-json");
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ \"architectures\": [");
        Cmd.AssertUserError(Generate(dir), "config.json");
    }

    [Fact]
    public void Generate_TruncatedSafetensors()
    {
        string dir = fixture.CopyOfModel("truncated");
        string weights = Path.Combine(dir, "model.safetensors");
        using (var file = new FileStream(weights, FileMode.Open, FileAccess.ReadWrite))
            file.SetLength(file.Length / 2);
        Cmd.AssertUserError(Generate(dir), "model.safetensors");
    }

    [Fact]
    public void Generate_MissingWeights()
    {
        string dir = fixture.CopyOfModel("no-weights");
        File.Delete(Path.Combine(dir, "model.safetensors"));
        Cmd.AssertUserError(Generate(dir), "model.safetensors");
    }

    [Fact]
    public void Generate_MissingTokenizer()
    {
        string dir = fixture.CopyOfModel("no-tokenizer");
        File.Delete(Path.Combine(dir, "tokenizer.json"));
        Cmd.AssertUserError(Generate(dir), "tokenizer");
    }

    [Fact]
    public void Generate_MissingShard()
    {
        string dir = TinyModel.Synth(fixture.NewDir("sharded"), seed: 1, "--shard-size-mb", "0.05");
        string shard = Directory.GetFiles(dir, "model-*-of-*.safetensors").Order().Last();
        File.Delete(shard);
        Cmd.AssertUserError(Generate(dir), Path.GetFileName(shard));
    }

    [Fact]
    public void Generate_UnsupportedArchitecture()
    {
        string dir = fixture.CopyOfModel("gpt2");
        string configPath = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["architectures"] = new JsonArray("GPT2LMHeadModel");
        File.WriteAllText(configPath, config.ToJsonString());
        Cmd.AssertUserError(Generate(dir), "GPT2LMHeadModel", "config.json");
    }

    [Fact]
    public void Generate_TokenizerOfAnotherModel()
    {
        string dir = fixture.CopyOfModel("foreign-tokenizer");
        File.Copy(Path.Combine(fixture.BigVocabModelDir, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"), overwrite: true);
        Cmd.AssertUserError(Generate(dir), "tokenizer");
    }

    [Fact]
    public void Generate_PromptLongerThanTheContext()
    {
        string prompt = string.Join(' ', Enumerable.Range(0, 200).Select(i => $"word{i}"));
        var result = Cmd.Run("generate", "--model", fixture.ShortContextModelDir, "--prompt", prompt, "--max-tokens", "4");
        Cmd.AssertUserError(result, "prompt");
    }

    [Theory]
    [InlineData("--max-tokens", "0")]
    [InlineData("--max-tokens", "-3")]
    [InlineData("--temperature", "-1")]
    [InlineData("--top-p", "0")]
    [InlineData("--top-p", "1.5")]
    [InlineData("--top-k", "-1")]
    [InlineData("--repetition-penalty", "0")]
    [InlineData("--dtype", "fp8")]
    [InlineData("--device", "bogus")]
    public void Generate_OutOfRangeFlag(string flag, string value)
    {
        var result = Cmd.Run("generate", "--model", fixture.ModelDir, "--prompt", "Hello", flag, value);
        Cmd.AssertUserError(result, flag);
    }

    [Fact]
    public void Generate_CudaDeviceWithoutCuda()
    {
        var result = Cmd.Run("generate", "--model", fixture.ModelDir, "--prompt", "Hello", "--max-tokens", "2", "--device", "cuda");
        if (result.ExitCode == 0) return; // a CUDA build on a machine with a GPU: the flag is fine
        Cmd.AssertUserError(result, "--device");
    }

    [Theory]
    [InlineData(new[] { "--heads", "3", "--hidden", "32" }, "--heads")]
    [InlineData(new[] { "--arch", "gpt2" }, "--arch")]
    [InlineData(new[] { "--vocab", "100" }, "--vocab")]
    [InlineData(new[] { "--dtype", "fp8" }, "--dtype")]
    [InlineData(new[] { "--heads", "4", "--kv-heads", "3" }, "--kv-heads")]
    [InlineData(new[] { "--layers", "0" }, "--layers")]
    public void Synth_BadShape(string[] flags, string named)
    {
        string dir = fixture.NewDir("synth");
        Cmd.AssertUserError(Cmd.Run(["model", "synth", "--out", dir, .. flags]), named);
        Assert.False(File.Exists(Path.Combine(dir, "model.safetensors")), "a rejected synth still wrote weights");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    public void Synth_NonPositiveShardSize(string megabytes)
    {
        var result = Cmd.Run(["model", "synth", "--out", fixture.NewDir("shards"), .. TinyModel.Shape, "--shard-size-mb", megabytes]);
        Cmd.AssertUserError(result, "--shard-size-mb");
    }

    [Fact]
    public void Synth_OutIsAnExistingFile()
    {
        string file = Path.Combine(fixture.NewDir("out-file") + ".txt");
        File.WriteAllText(file, "not a folder");
        try
        {
            var result = Cmd.Run(["model", "synth", "--out", file, .. TinyModel.Shape]);
            Cmd.AssertUserError(result, "--out");
        }
        finally { File.Delete(file); }
    }

    [Theory]
    [InlineData("--steps", "0")]
    [InlineData("--batch-sizes", "0")]
    [InlineData("--dtype", "fp8")]
    public void BenchDecode_BadFlag(string flag, string value)
    {
        // Checked before anything is loaded or measured.
        var result = Cmd.Run("bench", "decode", "--model", fixture.ModelDir, flag, value);
        Cmd.AssertUserError(result, flag);
    }

    [Fact]
    public void BenchDecode_MissingModelFolder()
    {
        string missing = fixture.NewDir("does-not-exist");
        Cmd.AssertUserError(Cmd.Run("bench", "decode", "--model", missing, "--steps", "1", "--batch-sizes", "1"), missing);
    }

    [Theory]
    [InlineData("generate", "--model", "M", "--prompt", "hi", "--no-such-flag")]
    [InlineData("generate", "--model", "M")]
    [InlineData("generate", "--model", "M", "--prompt", "hi", "--max-tokens", "many")]
    [InlineData("model", "synth")]
    [InlineData("no-such-verb")]
    public void ParseErrors_FailWithoutAStackTrace(params string[] args)
    {
        args = args.Select(a => a == "M" ? fixture.ModelDir : a).ToArray();
        var result = Cmd.Run(args);
        Assert.True(result.ExitCode == 2, $"expected exit code 2 (usage):\n{result}");
        Assert.StartsWith("error: ", result.StderrLines[0]);
        Assert.Contains("--help", result.StderrLines[^1]);
        Assert.Equal("", result.Stdout); // help text never pollutes stdout
        Cmd.AssertNoStackTrace(result.Stderr);
        Assert.DoesNotContain("Exception", result.Stderr);
    }
}
