using Granary.Model.Configuration;
using Granary.Model.Runtime;
using Granary.TestKit;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Modeling;

public sealed class KvCacheConsistencyTests
{
    [Theory]
    [InlineData(ModelArchitecture.Llama, false)]
    [InlineData(ModelArchitecture.Qwen2, true)]
    [InlineData(ModelArchitecture.Mistral, false)]
    public void Incremental_decode_matches_full_forward_at_every_step(ModelArchitecture architecture, bool tied)
    {
        using var model = TinyModels.Create(TinyModels.Config(architecture, tieWordEmbeddings: tied));
        int[] tokens = TinyModels.RandomTokens(24, model.Config.VocabSize, seed: 7);
        using var full = model.Step([new StepInput(null, tokens, AllLogits: true)]); // [24, V]

        using var cache = model.NewCache(capacity: 32);
        using var prefill = model.Step([new StepInput(cache, tokens[..8], AllLogits: true)]);
        AssertClose(full.narrow(0, 0, 8), prefill, 1e-4);
        for (int i = 8; i < tokens.Length; i++)
        {
            using var step = model.Step([new StepInput(cache, [tokens[i]])]);
            AssertClose(full.narrow(0, i, 1), step, 1e-4);
        }
        Assert.Equal(tokens.Length, cache.Length);
    }

    [Fact]
    public void Chunked_prefill_matches_one_shot_prefill()
    {
        using var model = TinyModels.Create(TinyModels.Config());
        int[] tokens = TinyModels.RandomTokens(20, model.Config.VocabSize, seed: 3);
        using var full = model.Step([new StepInput(null, tokens, AllLogits: true)]);
        using var cache = model.NewCache(capacity: 20);
        var chunks = new List<Tensor>();
        foreach (var range in new[] { (0, 5), (5, 12), (12, 20) })
            chunks.Add(model.Step([new StepInput(cache, tokens[range.Item1..range.Item2], AllLogits: true)]));
        using var chunked = cat(chunks, 0);
        AssertClose(full, chunked, 1e-4);
    }

    [Fact]
    public void Truncate_rolls_back_so_the_next_token_sees_only_the_kept_prefix()
    {
        using var model = TinyModels.Create(TinyModels.Config());
        int[] tokens = TinyModels.RandomTokens(10, model.Config.VocabSize, seed: 5);
        using var cache = model.NewCache(capacity: 16);
        model.Step([new StepInput(cache, tokens)]).Dispose();
        cache.Truncate(6);
        using var afterRollback = model.Step([new StepInput(cache, [tokens[6]])]);
        using var reference = model.Step([new StepInput(null, tokens[..7], AllLogits: true)]);
        AssertClose(reference.narrow(0, 6, 1), afterRollback, 1e-4);
    }

    [Fact]
    public void Writing_past_capacity_is_refused_and_leaves_the_cache_unchanged()
    {
        using var model = TinyModels.Create(TinyModels.Config());
        using var cache = model.NewCache(capacity: 4);
        model.Step([new StepInput(cache, [1, 2, 3])]).Dispose();
        var error = Assert.Throws<InvalidOperationException>(() => model.Step([new StepInput(cache, [4, 5])]));
        Assert.Contains("capacity 4", error.Message);
        Assert.Equal(3, cache.Length);
    }

    internal static void AssertClose(Tensor expected, Tensor actual, double tolerance)
    {
        Assert.Equal(expected.shape, actual.shape);
        double maxDiff = (expected - actual).abs().max().item<float>();
        Assert.True(maxDiff <= tolerance, $"max |diff| = {maxDiff:E3} > {tolerance:E1}");
    }
}
