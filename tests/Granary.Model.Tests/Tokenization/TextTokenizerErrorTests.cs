using Granary.TestKit;
using Granary.Abstractions;
using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

public sealed class TextTokenizerErrorTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Missing_folder()
    {
        string missing = Path.Combine(_folder.Path, "nope");
        var error = Assert.Throws<GranaryUserError>(() => TextTokenizer.Load(missing));
        Assert.Contains(missing, error.Message);
        Assert.Contains("tokenizer.json", error.Message);
    }

    [Fact]
    public void Folder_without_tokenizer_files()
    {
        var error = Assert.Throws<GranaryUserError>(() => TextTokenizer.Load(_folder.Path));
        AssertOneLineNaming(error, "tokenizer.json");
        Assert.Contains("tokenizer.model", error.Message);
    }

    [Theory]
    [InlineData("{ \"model\": { \"type\": \"BPE\", ")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{ \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": \"x\" } }, \"decoder\": { \"type\": \"ByteLevel\" } }")]
    [InlineData("{ \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0 }, \"merges\": [1] }, \"decoder\": { \"type\": \"ByteLevel\" } }")]
    public void Malformed_tokenizer_json(string json)
    {
        File.WriteAllText(_folder.Combine("tokenizer.json"), json);
        AssertOneLineNaming(Assert.Throws<GranaryUserError>(() => TextTokenizer.Load(_folder.Path)), "tokenizer.json");
    }

    [Fact]
    public void Unsupported_model_type_names_what_was_found()
    {
        File.WriteAllText(_folder.Combine("tokenizer.json"), """{"model": {"type": "Unigram", "vocab": []}}""");
        var error = Assert.Throws<GranaryUserError>(() => TextTokenizer.Load(_folder.Path));
        Assert.Equal($"tokenizer.json in {_folder.Path}: expected \"model.type\" \"BPE\", found \"Unigram\"", error.Message);
    }

    [Fact]
    public void Non_byte_level_tokenizer_json_without_sentencepiece_model()
    {
        File.WriteAllText(_folder.Combine("tokenizer.json"), """
            {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}, "decoder": {"type": "Metaspace"}}
            """);
        AssertOneLineNaming(Assert.Throws<GranaryUserError>(() => TextTokenizer.Load(_folder.Path)), "tokenizer.json");
    }

    [Fact]
    public void Non_byte_level_tokenizer_json_falls_back_to_the_sentencepiece_model()
    {
        File.WriteAllText(_folder.Combine("tokenizer.json"), """
            {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}}
            """);
        SentencePieceTestModel.WriteTo(_folder);
        var tokenizer = TextTokenizer.Load(_folder.Path);
        Assert.Equal("the café", tokenizer.Decode(tokenizer.Encode("the café", addBos: true), skipSpecialTokens: true));
    }

    [Fact]
    public void Corrupt_sentencepiece_model()
    {
        File.WriteAllBytes(_folder.Combine("tokenizer.model"), [0x0A, 0xFF, 0xFF, 0x01, 0x02]);
        AssertOneLineNaming(Assert.Throws<GranaryUserError>(() => TextTokenizer.Load(_folder.Path)), "tokenizer.model");
    }

    [Theory]
    [InlineData("tokenizer_config.json", "{ \"bos_token\": ")]
    [InlineData("tokenizer_config.json", "{ \"eos_token\": 5 }")]
    [InlineData("generation_config.json", "{ \"eos_token_id\": \"x\" }")]
    public void Malformed_config_files(string fileName, string json)
    {
        SentencePieceTestModel.WriteTo(_folder);
        File.WriteAllText(_folder.Combine(fileName), json);
        AssertOneLineNaming(Assert.Throws<GranaryUserError>(() => TextTokenizer.Load(_folder.Path)), fileName);
    }

    private void AssertOneLineNaming(GranaryUserError error, string fileName)
    {
        Assert.StartsWith(fileName, error.Message);
        Assert.Contains(_folder.Path, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }
}
