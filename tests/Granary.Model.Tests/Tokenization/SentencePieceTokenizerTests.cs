using Granary.TestKit;
using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

public sealed class SentencePieceTokenizerTests : IDisposable
{
    private readonly TempDirectory _folder = new();
    private readonly List<SentencePieceEntry> _pieces = SentencePieceTestModel.Pieces();
    private readonly TextTokenizer _tokenizer;

    public SentencePieceTokenizerTests()
    {
        SentencePieceTestModel.WriteTo(_folder);
        _tokenizer = TextTokenizer.Load(_folder.Path);
    }

    public void Dispose() => _folder.Dispose();

    public static TheoryData<string> Texts => new()
    {
        "the granary stood at the edge of the village",
        "Hello, World! 42",
        "東京は日本の首都です",
        "naïve café 🚀 👨‍👩‍👧 cafe\u0301",
        "tabs\tand\nnewlines\r\n",
        "  two leading spaces and two trailing  ",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Decode_of_encode_returns_the_input(string text)
    {
        var ids = _tokenizer.Encode(text, addBos: false);
        Assert.Equal(text, _tokenizer.Decode(ids));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Streaming_matches_whole_decoding(string text)
    {
        var ids = _tokenizer.Encode(text, addBos: true);
        var decoder = _tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        var pieces = ids.Select(decoder.Push).Append(decoder.Flush()).ToList();

        Assert.All(pieces, piece => Assert.DoesNotContain('\uFFFD', piece));
        Assert.Equal(text, string.Concat(pieces));
    }

    [Fact]
    public void File_facts_come_from_the_model_proto()
    {
        Assert.Equal(_pieces.Count, _tokenizer.VocabSize);
        Assert.Equal(1, _tokenizer.BosTokenId);
        Assert.Equal([2], _tokenizer.EosTokenIds);
        Assert.True(_tokenizer.AddBosToken);
        Assert.Equal(ChatTemplateFamily.None, _tokenizer.ChatTemplate);
        Assert.True(_tokenizer.IsSpecial(1));
        Assert.True(_tokenizer.IsSpecial(2));
        Assert.False(_tokenizer.IsSpecial(SentencePieceTestModel.FirstBytePiece));
    }

    [Fact]
    public void Merged_pieces_are_used_for_known_words()
    {
        var ids = _tokenizer.Encode("the", addBos: false);
        Assert.Equal([_pieces.FindIndex(p => p.Piece == "▁the")], ids);
    }

    [Fact]
    public void Characters_outside_the_vocabulary_fall_back_to_bytes()
    {
        var ids = _tokenizer.Encode("東", addBos: false);
        var byteIds = ids.Where(id => id >= SentencePieceTestModel.FirstBytePiece && id < SentencePieceTestModel.FirstBytePiece + 256).ToList();

        Assert.Equal([0xE6, 0x9D, 0xB1], byteIds.Select(id => id - SentencePieceTestModel.FirstBytePiece));
    }

    [Fact]
    public void Bos_and_eos_are_handled_as_special_tokens()
    {
        var ids = _tokenizer.Encode("Hello", addBos: true);
        Assert.Equal(1, ids[0]);
        Assert.Equal("Hello", _tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("<s>Hello</s>", _tokenizer.Decode([.. ids, 2]));
        Assert.Equal("Hello", _tokenizer.Decode([.. ids, 2], skipSpecialTokens: true));
    }

    [Fact]
    public void Control_tokens_written_in_text_encode_to_their_ids()
    {
        var ids = _tokenizer.Encode("<s>[INST] hi [/INST]", addBos: false);
        Assert.Equal(1, ids[0]);
        Assert.Equal(1, ids.Count(id => id == 1));
    }

    [Fact]
    public void Config_files_override_the_model_defaults()
    {
        File.WriteAllText(_folder.Combine("tokenizer_config.json"), """
            {
              "add_bos_token": false,
              "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
              "eos_token": {"content": "</s>"},
              "chat_template": "{% for m in messages %}{{ bos_token + '[INST] ' + m['content'] + ' [/INST]' }}{% endfor %}"
            }
            """);
        File.WriteAllText(_folder.Combine("generation_config.json"), """{"bos_token_id": 1, "eos_token_id": [2, 0]}""");

        var configured = TextTokenizer.Load(_folder.Path);

        Assert.False(configured.AddBosToken);
        Assert.Equal(1, configured.BosTokenId);
        Assert.Equal([2, 0], configured.EosTokenIds);
        Assert.Equal(ChatTemplateFamily.Llama2, configured.ChatTemplate);
    }
}
