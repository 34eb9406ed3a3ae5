using System.Text.Json.Nodes;
using Granary.Abstractions;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Granary.TestKit;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Loading;

public sealed class ModelLoaderTests
{
    static readonly ModelLoadOptions Fp32 = new(ScalarType.Float32);

    [Fact]
    public void A_sharded_checkpoint_loads_the_same_weights_as_a_single_file_one()
    {
        using var single = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions);
        using var sharded = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions with { MaxShardBytes = 64 * 1024 });
        Assert.True(File.Exists(Path.Combine(sharded.Path, "model.safetensors.index.json")));
        Assert.True(Directory.GetFiles(sharded.Path, "model-*-of-*.safetensors").Length > 2);

        using var a = ModelLoader.Load(single.Path, Fp32);
        using var b = ModelLoader.Load(sharded.Path, Fp32);
        var weightsB = b.Model.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, weight) in a.Model.Network.named_parameters())
            Assert.True(weight.shape.SequenceEqual(weightsB[name].shape) && weight.equal(weightsB[name]).all().item<bool>(), $"{name} differs");
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Half_precision_checkpoints_load_as_the_rounded_fp32_weights_and_run(ScalarType dtype)
    {
        using var full = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions);
        using var half = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions with { DType = dtype });
        using var fp32Model = ModelLoader.Load(full.Path, Fp32);
        using var halfAsFp32 = ModelLoader.Load(half.Path, Fp32);
        var rounded = halfAsFp32.Model.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, weight) in fp32Model.Model.Network.named_parameters())
        {
            using var expected = weight.to(dtype).to(ScalarType.Float32);
            Assert.True(expected.equal(rounded[name]).all().item<bool>(), $"{name} is not the {dtype} rounding of the fp32 weight");
        }

        using var native = ModelLoader.Load(half.Path, new ModelLoadOptions()); // run dtype from torch_dtype
        Assert.Equal(dtype, native.Model.DType);
        int[] tokens = TinyModels.RandomTokens(16, native.Config.VocabSize, seed: 1);
        using var reference = fp32Model.Model.Step([new StepInput(null, tokens, AllLogits: true)]);
        using var logits = native.Model.Step([new StepInput(null, tokens, AllLogits: true)]);
        double cosine = nn.functional.cosine_similarity(reference.flatten(), logits.flatten(), dim: 0).item<float>();
        Assert.True(cosine > 0.99, $"{dtype} logits drift from fp32: cosine {cosine:F4}");
    }

    [Fact]
    public void An_unsupported_architecture_is_named_in_the_error()
    {
        using var model = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions);
        EditConfig(model.Path, json => json["architectures"] = new JsonArray("GPT2LMHeadModel"));
        var error = Assert.Throws<GranaryUserError>(() => ModelLoader.Load(model.Path, Fp32));
        Assert.Contains("GPT2LMHeadModel", error.Message);
        Assert.Contains("config.json", error.Message);
    }

    [Fact]
    public void A_tokenizer_of_another_vocabulary_is_refused()
    {
        using var small = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions);
        using var large = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions with { VocabSize = 2048 });
        File.Copy(Path.Combine(large.Path, "tokenizer.json"), Path.Combine(small.Path, "tokenizer.json"), overwrite: true);
        var error = Assert.Throws<GranaryUserError>(() => ModelLoader.Load(small.Path, Fp32));
        Assert.Contains("tokenizer", error.Message);
        Assert.Contains("2048", error.Message);
        Assert.Contains("512", error.Message);
    }

    [Fact]
    public void Weights_that_do_not_match_the_config_name_the_tensor()
    {
        using var model = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions);
        EditConfig(model.Path, json => json["intermediate_size"] = 100);
        var error = Assert.Throws<GranaryUserError>(() => ModelLoader.Load(model.Path, Fp32));
        Assert.Contains("model.layers.0.mlp", error.Message);
        Assert.Contains("100", error.Message);
    }

    [Fact]
    public void A_config_with_more_layers_than_the_checkpoint_names_the_missing_tensor()
    {
        using var model = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions);
        EditConfig(model.Path, json => json["num_hidden_layers"] = 3);
        var error = Assert.Throws<GranaryUserError>(() => ModelLoader.Load(model.Path, Fp32));
        Assert.Contains("model.layers.2.", error.Message);
    }

    [Fact]
    public void A_truncated_safetensors_file_is_named()
    {
        using var model = new SynthesizedModelFolder(SynthesizedModelFolder.SmallOptions);
        string weights = Path.Combine(model.Path, "model.safetensors");
        using (var stream = new FileStream(weights, FileMode.Open)) stream.SetLength(stream.Length / 2);
        var error = Assert.Throws<GranaryUserError>(() => ModelLoader.Load(model.Path, Fp32));
        Assert.Contains("model.safetensors", error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void A_missing_folder_is_named()
    {
        var error = Assert.Throws<GranaryUserError>(() => ModelLoader.Load("/no/such/model", Fp32));
        Assert.Contains("/no/such/model", error.Message);
    }

    static void EditConfig(string dir, Action<JsonObject> edit)
    {
        string path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }
}
