using Granary.TestKit;
using System.Text.Json.Nodes;
using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

/// <summary>
/// The tokenizer.json shapes of real model families, made by rewriting a trained file: GPT-2 (ByteLevel
/// pre-tokenizer doing the split, pair-array merges), Llama-3 (Split regex, BOS from TemplateProcessing,
/// several EOS ids) and Qwen2 (NFC normalizer, no BOS).
/// </summary>
public sealed class HfTokenizerJsonVariantTests : IDisposable
{
    private static readonly string[] Specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"];
    private const string Sample = "Hello 東京 🚀\n\tdef f(x): return x<|eot_id|>";

    private readonly TempDirectory _folder = new();
    private readonly ByteLevelBpeModel _model = ByteLevelBpeTrainer.Train(SampleCorpus.Texts, 1024, Specials);

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Gpt2_style_bytelevel_split_and_pair_merges()
    {
        var json = WrittenJson();
        json["pre_tokenizer"] = JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}""");
        var merges = json["model"]!["merges"]!.AsArray();
        var pairs = new JsonArray(merges.Select(m => (JsonNode)new JsonArray([.. m!.GetValue<string>().Split(' ').Select(s => JsonValue.Create(s))])).ToArray());
        json["model"]!["merges"] = pairs;
        var tokenizer = Load(json);

        Assert.Equal(1024, tokenizer.VocabSize);
        Assert.Equal(Sample, tokenizer.Decode(tokenizer.Encode(Sample, addBos: false)));
        Assert.Null(tokenizer.BosTokenId);
        Assert.Empty(tokenizer.EosTokenIds);
    }

    [Fact]
    public void Llama3_style_split_regex_template_bos_and_eos_list()
    {
        var json = WrittenJson();
        json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = PreTokenizerPatterns.Llama3;
        json["post_processor"] = JsonNode.Parse("""
            {"type": "Sequence", "processors": [
              {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
              {"type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
               "pair": [], "special_tokens": {}}]}
            """);
        int eot = _model.SpecialTokenId("<|eot_id|>"), end = _model.SpecialTokenId("<|end_of_text|>");
        File.WriteAllText(_folder.Combine("generation_config.json"), $$"""{"bos_token_id": {{_model.SpecialTokenId("<|begin_of_text|>")}}, "eos_token_id": [{{end}}, {{eot}}]}""");
        File.WriteAllText(_folder.Combine("tokenizer_config.json"), """{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}""");
        var tokenizer = Load(json);

        Assert.Equal(_model.SpecialTokenId("<|begin_of_text|>"), tokenizer.BosTokenId);
        Assert.True(tokenizer.AddBosToken);
        Assert.Equal([end, eot], tokenizer.EosTokenIds);
        var ids = tokenizer.Encode(Sample, addBos: true);
        Assert.Equal(tokenizer.BosTokenId, ids[0]);
        Assert.Equal(eot, ids[^1]);
        Assert.Equal(Sample, tokenizer.Decode(ids, skipSpecialTokens: false)[Specials[0].Length..]);
        // Llama-3 groups digits in threes; GPT-2 keeps whole digit runs.
        Assert.True(tokenizer.Encode("1234567", false).Count >= 3);
    }

    [Fact]
    public void Qwen2_style_nfc_normalizer()
    {
        var json = WrittenJson();
        json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = PreTokenizerPatterns.Qwen2;
        json["normalizer"] = JsonNode.Parse("""{"type": "NFC"}""");
        File.WriteAllText(_folder.Combine("tokenizer_config.json"), """{"bos_token": null, "eos_token": "<|end_of_text|>", "add_bos_token": false}""");
        var tokenizer = Load(json);

        Assert.Null(tokenizer.BosTokenId);
        Assert.False(tokenizer.AddBosToken);
        Assert.Equal("café", tokenizer.Decode(tokenizer.Encode("cafe\u0301", addBos: true)));
    }

    [Fact]
    public void Unsupported_pre_tokenizer_is_a_user_error()
    {
        var json = WrittenJson();
        json["pre_tokenizer"] = JsonNode.Parse("""{"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "ByteLevel"}]}""");
        var error = Assert.Throws<Granary.Abstractions.GranaryUserError>(() => Load(json));
        Assert.Contains("Digits", error.Message);
        Assert.StartsWith("tokenizer.json in ", error.Message);
    }

    private JsonObject WrittenJson()
    {
        TokenizerJsonWriter.Write(_folder.Combine("tokenizer.json"), _model);
        return JsonNode.Parse(File.ReadAllText(_folder.Combine("tokenizer.json")))!.AsObject();
    }

    private TextTokenizer Load(JsonObject json)
    {
        File.WriteAllText(_folder.Combine("tokenizer.json"), json.ToJsonString());
        return TextTokenizer.Load(_folder.Path);
    }
}
