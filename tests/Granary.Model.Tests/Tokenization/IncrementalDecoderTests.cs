using System.Text;
using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

public sealed class IncrementalDecoderTests(TrainedTokenizerFixture trained) : IClassFixture<TrainedTokenizerFixture>
{
    private const string MixedText = "Hi 東京 🚀 naïve cafe\u0301 👨‍👩‍👧<|im_end|> ok 𠀀\n\tdone";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pieces_concatenate_to_the_whole_decode_without_replacement_characters(bool skipSpecialTokens)
    {
        foreach (var tokenizer in trained.Both)
        {
            var ids = tokenizer.Encode(MixedText, addBos: true);
            var decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens);
            var pieces = ids.Select(decoder.Push).Append(decoder.Flush()).ToList();

            Assert.All(pieces, piece => Assert.DoesNotContain('\uFFFD', piece));
            Assert.Equal(tokenizer.Decode(ids, skipSpecialTokens), string.Concat(pieces));
        }
    }

    [Fact]
    public void A_character_split_over_byte_tokens_is_held_back_until_complete()
    {
        // With the small vocabulary the rocket emoji is rare enough to stay as single-byte tokens.
        var tokenizer = trained.Small;
        var ids = tokenizer.Encode("🚀", addBos: false);
        Assert.True(ids.Count > 1, "the emoji should span several tokens in a 512 vocabulary");

        var decoder = tokenizer.CreateIncrementalDecoder();
        var pieces = ids.Select(decoder.Push).ToList();

        Assert.All(pieces.SkipLast(1), piece => Assert.Equal("", piece));
        Assert.Equal("🚀", pieces[^1]);
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void Flush_emits_an_unfinished_character_as_a_replacement()
    {
        var tokenizer = trained.Small;
        int firstByteOfRocket = tokenizer.TokenId(ByteLevelAlphabet.CharFor(0xF0).ToString())!.Value;
        var decoder = tokenizer.CreateIncrementalDecoder();

        Assert.Equal("", decoder.Push(firstByteOfRocket));
        Assert.Equal("\uFFFD", decoder.Flush());
    }

    [Fact]
    public void Invalid_bytes_are_not_held_back_forever()
    {
        var tokenizer = trained.Small;
        int stray = tokenizer.TokenId(ByteLevelAlphabet.CharFor(0x80).ToString())!.Value; // lone continuation byte
        int letter = tokenizer.TokenId("a")!.Value;
        var decoder = tokenizer.CreateIncrementalDecoder();

        Assert.Equal("\uFFFD", decoder.Push(stray));
        Assert.Equal("a", decoder.Push(letter));
    }

    [Fact]
    public void Every_prefix_decodes_to_a_prefix_of_the_text_for_ascii()
    {
        var tokenizer = trained.Large;
        const string text = "for i in range(10):\n    print(i)";
        var decoder = tokenizer.CreateIncrementalDecoder();
        var streamed = new StringBuilder();
        foreach (int id in tokenizer.Encode(text, addBos: false))
        {
            streamed.Append(decoder.Push(id));
            Assert.StartsWith(streamed.ToString(), text, StringComparison.Ordinal);
        }
        Assert.Equal(text, streamed.ToString());
    }
}
