using Granary.Model.Tokenization;

namespace Granary.Model.Tests.Tokenization;

public sealed class TextTokenizerConcurrencyTests(TrainedTokenizerFixture trained) : IClassFixture<TrainedTokenizerFixture>
{
    [Fact]
    public void Concurrent_encode_and_decode_agree_with_sequential_results()
    {
        var tokenizer = trained.Large;
        var texts = Enumerable.Range(0, 64).Select(i => $"{SampleCorpus.Texts[i % SampleCorpus.Texts.Count]} #{i} 東京🚀").ToArray();
        var expected = texts.Select(t => tokenizer.Encode(t, addBos: false)).ToArray();

        var actual = new IReadOnlyList<int>[texts.Length];
        var decoded = new string[texts.Length];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            actual[i] = tokenizer.Encode(texts[i], addBos: false);
            decoded[i] = tokenizer.Decode(actual[i]);
        });

        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
            Assert.Equal(texts[i], decoded[i]);
        }
    }
}
