using Granary.TestKit;
using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

/// <summary>Trains the sample-corpus tokenizers once per test class, writes and loads them back.</summary>
public sealed class TrainedTokenizerFixture : IDisposable
{
    public static readonly string[] Specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

    private readonly TempDirectory _small = new();
    private readonly TempDirectory _large = new();

    public TrainedTokenizerFixture()
    {
        SmallModel = ByteLevelBpeTrainer.Train(SampleCorpus.Texts, 512, Specials);
        LargeModel = ByteLevelBpeTrainer.Train(SampleCorpus.Texts, 4096, Specials);
        Small = WriteAndLoad(_small, SmallModel);
        Large = WriteAndLoad(_large, LargeModel);
    }

    public ByteLevelBpeModel SmallModel { get; }

    public ByteLevelBpeModel LargeModel { get; }

    /// <summary>Vocabulary 512, ChatML template, BOS "&lt;|endoftext|&gt;" not added by default.</summary>
    public TextTokenizer Small { get; }

    /// <summary>Vocabulary 4096, same specials and config.</summary>
    public TextTokenizer Large { get; }

    public IEnumerable<TextTokenizer> Both => [Small, Large];

    private static TextTokenizer WriteAndLoad(TempDirectory folder, ByteLevelBpeModel model)
    {
        TokenizerJsonWriter.Write(folder.Combine("tokenizer.json"), model);
        TokenizerConfigWriter.Write(folder.Path, "<|endoftext|>", "<|im_end|>", ChatTemplateFamily.ChatML);
        return TextTokenizer.Load(folder.Path);
    }

    public void Dispose()
    {
        _small.Dispose();
        _large.Dispose();
    }
}
