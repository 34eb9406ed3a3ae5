using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

public sealed class ByteLevelBpeRoundTripTests(TrainedTokenizerFixture trained) : IClassFixture<TrainedTokenizerFixture>
{
    public static TheoryData<string> Texts => new()
    {
        "Hello, world! It's a test.",
        "def f(x):\n\treturn x * 2  # doubled\n\n\n    indented   spaces\r\n",
        "東京は日本の首都です。我们在北京学习中文。",
        "rocket 🚀, family 👨‍👩‍👧, thumbs 👍🏽, heart ❤️",
        "naïve café and the decomposed cafe\u0301 with a\u0308 n\u0303",
        "𠀀𠀁 supplementary CJK and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "  leading and trailing spaces  ",
        "",
        "numbers 3.14159 and 1,000,000 and 0x7FFF",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Decode_of_encode_returns_the_input(string text)
    {
        foreach (var tokenizer in trained.Both)
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, addBos: false)));
    }

    [Fact]
    public void Vocab_size_is_exactly_the_trained_size()
    {
        Assert.Equal(512, trained.Small.VocabSize);
        Assert.Equal(4096, trained.Large.VocabSize);
    }

    [Fact]
    public void Larger_vocabulary_compresses_the_training_text_better()
    {
        string text = SampleCorpus.Texts[1];
        Assert.True(trained.Large.Encode(text, false).Count < trained.Small.Encode(text, false).Count);
        Assert.True(trained.Large.Encode(text, false).Count < text.Length / 2);
    }

    [Fact]
    public void Special_tokens_in_text_encode_to_single_ids_and_decode_back()
    {
        var tokenizer = trained.Large;
        int start = trained.LargeModel.SpecialTokenId("<|im_start|>");
        int end = trained.LargeModel.SpecialTokenId("<|im_end|>");
        string text = "<|im_start|>user\nHi there<|im_end|>\n";

        var ids = tokenizer.Encode(text, addBos: false);

        Assert.Equal(start, ids[0]);
        Assert.Single(ids, id => id == end);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.True(tokenizer.IsSpecial(start));
        Assert.False(tokenizer.IsSpecial(ids[1]));
    }

    [Fact]
    public void Skip_special_tokens_drops_them()
    {
        var tokenizer = trained.Large;
        var ids = tokenizer.Encode("<|im_start|>assistant\nOK<|im_end|>", addBos: false);
        Assert.Equal("assistant\nOK", tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Bos_is_added_only_when_asked()
    {
        var tokenizer = trained.Small;
        int bos = trained.SmallModel.SpecialTokenId("<|endoftext|>");
        Assert.Equal(bos, tokenizer.BosTokenId);
        Assert.False(tokenizer.AddBosToken); // ChatML config written without add_bos_token

        var plain = tokenizer.Encode("hello", addBos: false);
        var withBos = tokenizer.Encode("hello", addBos: true);

        Assert.DoesNotContain(bos, plain);
        Assert.Equal([bos, .. plain], withBos);
        Assert.Equal("hello", tokenizer.Decode(withBos, skipSpecialTokens: true));
    }

    [Fact]
    public void Config_facts_are_read_back()
    {
        var tokenizer = trained.Large;
        Assert.Equal([trained.LargeModel.SpecialTokenId("<|im_end|>")], tokenizer.EosTokenIds);
        Assert.Equal(ChatTemplateFamily.ChatML, tokenizer.ChatTemplate);
        Assert.Equal(trained.LargeModel.SpecialTokenId("<|im_start|>"), tokenizer.TokenId("<|im_start|>"));
        Assert.Null(tokenizer.TokenId("<|not a token|>"));
    }

    [Fact]
    public void Decode_rejects_ids_outside_the_vocabulary()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => trained.Small.Decode([5, 512]));
    }
}
