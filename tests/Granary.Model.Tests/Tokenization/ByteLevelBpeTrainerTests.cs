using Granary.TestKit;
using System.Diagnostics;
using System.Text;
using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

public sealed class ByteLevelBpeTrainerTests
{
    private static readonly string[] Specials = ["<|endoftext|>", "<|pad|>"];

    [Theory]
    [InlineData(259)]
    [InlineData(300)]
    [InlineData(1000)]
    [InlineData(20000)] // far beyond what the sample corpus has pairs for: filler merges make up the rest
    public void Vocabulary_has_exactly_the_requested_size(int vocabSize)
    {
        var model = ByteLevelBpeTrainer.Train(SampleCorpus.Texts, vocabSize, Specials);

        Assert.Equal(vocabSize, model.VocabSize);
        Assert.Equal(vocabSize - Specials.Length, model.Tokens.Count);
        Assert.Equal(model.Tokens.Count, model.Tokens.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(vocabSize - 1, model.SpecialTokenId("<|pad|>"));
        AssertMergesAreValid(model);
    }

    [Fact]
    public void Too_small_a_vocabulary_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => ByteLevelBpeTrainer.Train(SampleCorpus.Texts, 258, Specials));
        Assert.Throws<ArgumentException>(() => ByteLevelBpeTrainer.Train(SampleCorpus.Texts, 600, ["<a>", "<a>"]));
    }

    [Fact]
    public void First_merges_are_the_most_frequent_pairs()
    {
        var model = ByteLevelBpeTrainer.Train(["aaab aaab aaab xy"], 262, []);
        // " a" pairs: "Ġa" occurs 3 times, "aa" 6 times (two per "aaab"); "aa" wins.
        Assert.Equal(new BpeMerge("a", "a"), model.Merges[0]);
    }

    [Fact]
    public void Training_is_deterministic_down_to_the_written_file()
    {
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        TokenizerJsonWriter.Write(first.Combine("tokenizer.json"), ByteLevelBpeTrainer.Train(SampleCorpus.Texts, 2000, Specials));
        TokenizerJsonWriter.Write(second.Combine("tokenizer.json"), ByteLevelBpeTrainer.Train(SampleCorpus.Texts, 2000, Specials));

        Assert.Equal(File.ReadAllBytes(first.Combine("tokenizer.json")), File.ReadAllBytes(second.Combine("tokenizer.json")));
    }

    [Fact]
    public void Trains_a_megabyte_of_code_quickly()
    {
        var corpus = SyntheticCode(1_000_000);
        var clock = Stopwatch.StartNew();
        var model = ByteLevelBpeTrainer.Train(corpus, 8000, Specials);
        clock.Stop();

        Assert.Equal(8000, model.VocabSize);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"training took {clock.Elapsed}");
    }

    private static void AssertMergesAreValid(ByteLevelBpeModel model)
    {
        var tokens = new HashSet<string>(model.Tokens, StringComparer.Ordinal);
        foreach (var merge in model.Merges)
        {
            Assert.Contains(merge.Left, tokens);
            Assert.Contains(merge.Right, tokens);
            Assert.Contains(merge.Left + merge.Right, tokens);
        }
    }

    /// <summary>Pseudo-random but reproducible Python-like lines, about the requested number of chars.</summary>
    internal static List<string> SyntheticCode(int characters)
    {
        string[] names = ["value", "count", "index", "result", "items", "total", "buffer", "node", "key", "weight"];
        string[] shapes = ["{0} = {1} + {2}\n", "    if {0} > {2}:\n        return {1}\n", "for {0} in range({2}):\n",
                           "def {0}_{1}(self, {2}):\n", "    {0}.append({1}[{2}])\n", "print(f\"{{{0}}} and {{{1}}}\")\n"];
        var random = new Random(1234);
        var texts = new List<string>();
        var text = new StringBuilder();
        int written = 0;
        while (written < characters)
        {
            string line = string.Format(shapes[random.Next(shapes.Length)],
                names[random.Next(names.Length)], names[random.Next(names.Length)], random.Next(1000));
            text.Append(line);
            written += line.Length;
            if (text.Length > 4000) { texts.Add(text.ToString()); text.Clear(); }
        }
        texts.Add(text.ToString());
        return texts;
    }
}
