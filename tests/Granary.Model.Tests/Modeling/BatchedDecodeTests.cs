using Granary.Model.Configuration;
using Granary.Model.KvCache;
using Granary.Model.Runtime;
using Granary.TestKit;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Modeling;

/// <summary>
/// Decode rows attended together (one gather over the KV pool, padded and masked) against each segment
/// attending on its own: the same logits to rounding and the same greedy tokens.
/// </summary>
public sealed class BatchedDecodeTests
{
    // Prompt lengths differ, so the rows of each decode step sit at different positions.
    static readonly int[] PromptLengths = [3, 9, 1, 6];

    public static TheoryData<string> Variants => new() { "gqa", "mqa", "sliding-window" };

    static ModelConfig ConfigFor(string variant) => variant switch
    {
        "gqa" => TinyModels.Config(ModelArchitecture.Llama, numKvHeads: 2),
        "mqa" => TinyModels.Config(ModelArchitecture.Qwen2, numKvHeads: 1, tieWordEmbeddings: true),
        "sliding-window" => TinyModels.Config(ModelArchitecture.Mistral) with { SlidingWindow = 5 },
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Batched_decode_rows_give_the_per_segment_logits_and_greedy_tokens(string variant)
    {
        using var model = TinyModels.Create(ConfigFor(variant), seed: 31);
        var (batched, perSegment) = (Prefill(model, seed: 1), Prefill(model, seed: 1));
        var next = batched.Select(s => s.Prompt[^1]).ToArray();
        for (int step = 0; step < 8; step++)
        {
            using var expected = Decode(model, perSegment, next, batchDecodeRows: false);
            using var actual = Decode(model, batched, next, batchDecodeRows: true);
            KvCacheConsistencyTests.AssertClose(expected, actual, 1e-5);
            using var expectedTokens = expected.argmax(1);
            using var actualTokens = actual.argmax(1);
            Assert.Equal(expectedTokens.data<long>().ToArray(), actualTokens.data<long>().ToArray());
            next = actualTokens.data<long>().Select(t => (int)t).ToArray();
        }
        Assert.All(batched.Zip(perSegment), p => Assert.Equal(p.Second.Cache.Length, p.First.Cache.Length));
        Dispose(batched, perSegment);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void A_mixed_step_batches_its_decode_rows_and_keeps_prompt_chunks_in_place(string variant)
    {
        using var model = TinyModels.Create(ConfigFor(variant), seed: 32);
        var (batched, perSegment) = (Prefill(model, seed: 2), Prefill(model, seed: 2));
        int[] chunk = TinyModels.RandomTokens(7, model.Config.VocabSize, seed: 9);
        using var newA = model.NewCache(16);
        using var newB = model.NewCache(16);

        using var expected = MixedStep(model, perSegment, newB, chunk, batchDecodeRows: false);
        using var actual = MixedStep(model, batched, newA, chunk, batchDecodeRows: true);
        KvCacheConsistencyTests.AssertClose(expected, actual, 1e-5);
        Dispose(batched, perSegment);
    }

    [Fact]
    public void Each_row_of_a_batched_decode_step_matches_that_sequence_decoded_alone()
    {
        using var model = TinyModels.Create(ConfigFor("mqa"), seed: 33);
        var together = Prefill(model, seed: 3);
        var alone = Prefill(model, seed: 3);
        int[] next = [5, 17, 42, 8];
        using var batch = Decode(model, together, next, batchDecodeRows: true);
        for (int i = 0; i < alone.Count; i++)
        {
            using var single = model.Step([new StepInput(alone[i].Cache, [next[i]])]);
            KvCacheConsistencyTests.AssertClose(single, batch.narrow(0, i, 1), 1e-5);
        }
        Dispose(together, alone);
    }

    // bf16 and fp16 round every op to 8 or 11 mantissa bits, and the batched path sums in another order:
    // logits agree to within 2% of their largest magnitude, not to the fp32 1e-5.
    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Half_precision_batched_decode_matches_per_segment_within_rounding(ScalarType dtype)
    {
        using var model = TinyModels.Create(ConfigFor("gqa"), seed: 34, dtype: dtype);
        var (batched, perSegment) = (Prefill(model, seed: 4), Prefill(model, seed: 4));
        var next = batched.Select(s => s.Prompt[^1]).ToArray();
        for (int step = 0; step < 4; step++)
        {
            using var expected = Decode(model, perSegment, next, batchDecodeRows: false);
            using var actual = Decode(model, batched, next, batchDecodeRows: true);
            double scale = expected.abs().max().item<float>();
            KvCacheConsistencyTests.AssertClose(expected, actual, 0.02 * scale);
            using var tokens = expected.argmax(1);
            next = tokens.data<long>().Select(t => (int)t).ToArray();
        }
        Dispose(batched, perSegment);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Speculative_verification_rows_batched_give_the_per_segment_logits(string variant)
    {
        // Each sequence feeds several new tokens with every row's logits (k + 1 positions of a verification),
        // a different number each; batched, every token is its own row that sees keys up to its own position.
        using var model = TinyModels.Create(ConfigFor(variant), seed: 35);
        var (batched, perSegment) = (Prefill(model, seed: 5), Prefill(model, seed: 5));
        int[] numNew = [5, 1, 3, 4];
        List<StepInput> Inputs(IReadOnlyList<Prefilled> sequences) => sequences
            .Select((s, i) => new StepInput(s.Cache, [s.Prompt[^1], .. TinyModels.RandomTokens(numNew[i] - 1, model.Config.VocabSize, 50 + i)], AllLogits: true))
            .ToList();
        model.BatchesDecodeRows = false;
        using var expected = model.Step(Inputs(perSegment));
        model.BatchesDecodeRows = true;
        using var actual = model.Step(Inputs(batched));
        Assert.Equal(numNew.Sum(), actual.size(0));
        KvCacheConsistencyTests.AssertClose(expected, actual, 1e-5);
        Assert.All(batched.Zip(perSegment), p => Assert.Equal(p.Second.Cache.Length, p.First.Cache.Length));
        Dispose(batched, perSegment);
    }

    sealed record Prefilled(SequenceKvCache Cache, int[] Prompt);

    static List<Prefilled> Prefill(CausalLm model, int seed)
    {
        var sequences = PromptLengths
            .Select((n, i) => new Prefilled(model.NewCache(32), TinyModels.RandomTokens(n, model.Config.VocabSize, seed * 100 + i)))
            .ToList();
        // Prompts without their last token: the first decode step feeds it.
        foreach (var s in sequences.Where(s => s.Prompt.Length > 1))
            model.Step([new StepInput(s.Cache, s.Prompt[..^1])]).Dispose();
        return sequences;
    }

    static Tensor Decode(CausalLm model, IReadOnlyList<Prefilled> sequences, int[] next, bool batchDecodeRows)
    {
        model.BatchesDecodeRows = batchDecodeRows;
        try { return model.Step(sequences.Select((s, i) => new StepInput(s.Cache, [next[i]])).ToList()); }
        finally { model.BatchesDecodeRows = true; }
    }

    // Decode rows around a prompt chunk and a cacheless sequence; all logits rows of the chunk.
    static Tensor MixedStep(CausalLm model, IReadOnlyList<Prefilled> sequences, SequenceKvCache chunkCache, int[] chunk, bool batchDecodeRows)
    {
        var inputs = sequences.Select(s => new StepInput(s.Cache, [s.Prompt[^1]])).ToList();
        inputs.Insert(2, new StepInput(chunkCache, chunk, AllLogits: true));
        inputs.Add(new StepInput(null, chunk[..3], AllLogits: true));
        model.BatchesDecodeRows = batchDecodeRows;
        try { return model.Step(inputs); }
        finally { model.BatchesDecodeRows = true; }
    }

    static void Dispose(params IEnumerable<Prefilled>[] groups)
    {
        foreach (var s in groups.SelectMany(g => g)) s.Cache.Dispose();
    }
}
