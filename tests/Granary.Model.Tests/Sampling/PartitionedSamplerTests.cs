using Granary.Abstractions;
using Granary.Model.Sampling;
using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Sampling;

/// <summary>
/// Gather-free sampling over vocabulary parts draws the same tokens as the whole row for the same seed,
/// for every sampling mode and every way of splitting the vocabulary, and its draws follow exactly the
/// distribution <see cref="SequenceSampler.Probabilities"/> describes.
/// </summary>
public sealed class PartitionedSamplerTests
{
    const int Vocab = 300;

    public static TheoryData<string> Modes => ["greedy", "temperature", "top-k", "top-p", "top-p-flat", "top-k-top-p", "penalty"];

    static SamplingParams Parameters(string mode, long seed) => mode switch
    {
        "greedy" => new SamplingParams { Temperature = 0, RepetitionPenalty = 1.3, Seed = seed },
        "temperature" => new SamplingParams { Temperature = 0.8, Seed = seed },
        "top-k" => new SamplingParams { Temperature = 1.2, TopK = 17, Seed = seed },
        "top-p" => new SamplingParams { Temperature = 0.7, TopP = 0.5, Seed = seed },
        // p close to 1 at a high temperature: the kept mass lies far past the first candidates (widening).
        "top-p-flat" => new SamplingParams { Temperature = 3.0, TopP = 0.97, Seed = seed },
        "top-k-top-p" => new SamplingParams { Temperature = 0.9, TopK = 40, TopP = 0.8, Seed = seed },
        "penalty" => new SamplingParams { Temperature = 1.0, RepetitionPenalty = 1.5, Seed = seed },
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    static Tensor RandomLogits(int rows, long seed)
    {
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        return randn([rows, Vocab], generator: generator) * 2.5f;
    }

    // Parts that view column ranges of the same logits (each disposes only its own view).
    static List<IVocabPartLogits> Split(Tensor logits, int numParts) =>
        VocabRange.Split(Vocab, numParts).Select(r => (IVocabPartLogits)new LocalVocabPartLogits(logits.narrow(1, r.Start, r.Count), r)).ToList();

    [Theory]
    [MemberData(nameof(Modes))]
    public void Parts_draw_the_whole_rows_tokens_for_the_same_seed(string mode)
    {
        using var logits = RandomLogits(rows: 40, seed: 7);
        int[] prompt = [3, 150, 299, 42];
        foreach (int numParts in new[] { 2, 3, 7 })
        {
            using var whole = new SequenceSampler(Parameters(mode, seed: 11), prompt);
            using var split = new SequenceSampler(Parameters(mode, seed: 11), prompt);
            var parts = Split(logits, numParts);
            try
            {
                for (int row = 0; row < 40; row++)
                {
                    using var rowLogits = logits[row];
                    int expected = whole.Sample(rowLogits);
                    int actual = split.Sample(parts, row);
                    Assert.True(expected == actual, $"{mode}, {numParts} parts, row {row}: whole drew {expected}, parts drew {actual}");
                    whole.Accept(expected);
                    split.Accept(actual);
                }
            }
            finally
            {
                foreach (var part in parts) part.Dispose();
            }
        }
    }

    [Fact]
    public void Top_p_matches_the_whole_row_wherever_the_cut_falls()
    {
        // A part's 65th best token can outrank another part's 64th: the merged candidates are a true prefix of
        // the vocabulary's order only down to the lowest score every unfinished part has sent. Sweep the cut
        // over that region.
        using var logits = RandomLogits(rows: 8, seed: 21);
        foreach (double temperature in new[] { 0.5, 1.0, 2.0, 4.0 })
            foreach (double topP in new[] { 0.3, 0.6, 0.8, 0.9, 0.95 })
            {
                var parameters = new SamplingParams { Temperature = temperature, TopP = topP, Seed = 3 };
                using var whole = new SequenceSampler(parameters, []);
                using var split = new SequenceSampler(parameters, []);
                var parts = Split(logits, 4);
                for (int row = 0; row < 8; row++)
                {
                    using var rowLogits = logits[row];
                    int expected = whole.Sample(rowLogits);
                    int actual = split.Sample(parts, row);
                    Assert.True(expected == actual, $"T={temperature}, top_p={topP}, row {row}: whole drew {expected}, parts drew {actual}");
                }
                foreach (var part in parts) part.Dispose();
            }
    }

    [Theory]
    [InlineData("temperature")]
    [InlineData("top-k")]
    [InlineData("top-p")]
    [InlineData("top-k-top-p")]
    public void Draws_follow_the_samplers_distribution(string mode)
    {
        // 12 tokens so that 12,000 draws pin every probability down to about ±0.004 (one sigma).
        using var logits = tensor(new float[] { 0.5f, 2.0f, -1f, 3.0f, 1.5f, 0f, -2f, 0.2f, 1.1f, 2.6f, -0.4f, 0.9f }).unsqueeze(0);
        var parameters = Parameters(mode, seed: 5) with { TopK = mode.Contains("top-k") ? 5 : 0 };
        using var sampler = new SequenceSampler(parameters, []);
        using var row = logits[0];
        float[] expected;
        using (var probs = sampler.Probabilities(row)) expected = probs.data<float>().ToArray();
        var parts = VocabRange.Split(12, 3).Select(r => (IVocabPartLogits)new LocalVocabPartLogits(logits.narrow(1, r.Start, r.Count), r)).ToList();
        var counts = new int[12];
        const int draws = 12_000;
        for (int i = 0; i < draws; i++) counts[sampler.Sample(parts, 0)]++;
        foreach (var part in parts) part.Dispose();
        for (int id = 0; id < 12; id++)
        {
            if (expected[id] == 0) Assert.True(counts[id] == 0, $"token {id} has probability 0 but was drawn {counts[id]} times");
            else Assert.InRange((double)counts[id] / draws, expected[id] - 0.02, expected[id] + 0.02);
        }
    }

    [Fact]
    public void A_batch_asks_each_part_one_question_per_round_and_matches_row_by_row_draws()
    {
        using var logits = RandomLogits(rows: 12, seed: 9);
        string[] modes = ["greedy", "temperature", "top-k", "top-p", "top-p-flat", "top-k-top-p", "penalty"];
        var samplers = Enumerable.Range(0, 12).Select(i => new SequenceSampler(Parameters(modes[i % modes.Length], seed: 100 + i), [i])).ToList();
        var twins = Enumerable.Range(0, 12).Select(i => new SequenceSampler(Parameters(modes[i % modes.Length], seed: 100 + i), [i])).ToList();
        var counting = VocabRange.Split(Vocab, 4).Select(r => new CountingPart(new LocalVocabPartLogits(logits.narrow(1, r.Start, r.Count), r))).ToList();
        var parts = counting.Cast<IVocabPartLogits>().ToList();

        int[] batch = PartitionedSampler.Sample(parts, samplers.Select((s, row) => s.RequestFor(row)).ToList());
        int[] oneByOne = twins.Select((s, row) => { using var r = logits[row]; return s.Sample(r); }).ToArray();

        Assert.Equal(oneByOne, batch);
        Assert.All(counting, part => Assert.InRange(part.SummarizeCalls, 1, 3)); // first round, perhaps a widening or two
        foreach (var part in counting) part.Dispose();
        foreach (var sampler in samplers.Concat(twins)) sampler.Dispose();
    }

    [Fact]
    public void Top_k_and_top_p_send_only_candidates_not_whole_parts()
    {
        using var logits = RandomLogits(rows: 1, seed: 3);
        var counting = VocabRange.Split(Vocab, 3).Select(r => new CountingPart(new LocalVocabPartLogits(logits.narrow(1, r.Start, r.Count), r))).ToList();
        using var sampler = new SequenceSampler(new SamplingParams { Temperature = 0.7, TopK = 8, TopP = 0.9, Seed = 1 }, []);
        sampler.Sample(counting.Cast<IVocabPartLogits>().ToList(), 0);
        Assert.All(counting, part => Assert.True(part.MaxCandidates <= 8, $"a part was asked for {part.MaxCandidates} candidates"));
        Assert.All(counting, part => Assert.Equal(0, part.Walks));
        foreach (var part in counting) part.Dispose();
    }

    sealed class CountingPart(IVocabPartLogits inner) : IVocabPartLogits
    {
        public int MaxCandidates { get; private set; }

        public int Walks { get; private set; }

        public int SummarizeCalls { get; private set; }

        public VocabRange Range => inner.Range;

        public IReadOnlyList<VocabPartSummary> Summarize(IReadOnlyList<PartQuery> queries)
        {
            SummarizeCalls++;
            MaxCandidates = Math.Max(MaxCandidates, queries.Max(q => q.NumCandidates));
            return inner.Summarize(queries);
        }

        public IReadOnlyList<int> Walk(IReadOnlyList<PartWalk> walks)
        {
            Walks += walks.Count;
            return inner.Walk(walks);
        }

        public IReadOnlyList<double> LogitsAt(IReadOnlyList<(int Row, int TokenId)> picks) => inner.LogitsAt(picks);

        public Tensor Read() => inner.Read();

        public void Dispose() => inner.Dispose();
    }
}
