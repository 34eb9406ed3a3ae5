using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Model.Sharding;
using Granary.TestKit;

namespace Granary.Model.Tests.Sharding;

public sealed class ParallelPlanTests
{
    [Theory]
    [InlineData("pp=2,tp=2", 2, 2)]
    [InlineData(" tp=4 , pp=3 ", 3, 4)]
    [InlineData("PP=2", 2, 1)]
    [InlineData("none", 1, 1)]
    [InlineData("", 1, 1)]
    public void Parses_stages_and_ranks(string text, int stages, int ranks)
    {
        var plan = ParallelPlan.Parse(text);
        Assert.Equal(new ParallelPlan(stages, ranks), plan);
    }

    [Theory]
    [InlineData("pp=0", "\"pp=0\" is not KEY=N with N >= 1")]
    [InlineData("pp=two", "\"pp=two\" is not KEY=N")]
    [InlineData("pp", "\"pp\" is not KEY=N")]
    [InlineData("pp=2,pp=3", "\"pp\" is given twice")]
    [InlineData("dp=2", "unknown dimension \"dp\"")]
    public void Bad_plans_name_the_flag_and_the_part(string text, string message)
    {
        var error = Assert.Throws<GranaryUserError>(() => ParallelPlan.Parse(text));
        Assert.StartsWith("--plan: ", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Stages_take_contiguous_balanced_layer_ranges()
    {
        var config = TinyModels.Config(numLayers: 7);
        var specs = ShardSpec.ForPlan(config, new ParallelPlan(3, 2));
        Assert.Equal(6, specs.Count);
        Assert.Equal([(0, 3), (0, 3), (3, 5), (3, 5), (5, 7), (5, 7)], specs.Select(s => (s.LayerStart, s.LayerEnd)));
        Assert.Equal([0, 1, 0, 1, 0, 1], specs.Select(s => s.TpRank));
        Assert.True(specs[0].IsFirstStage && !specs[0].IsLastStage && specs[5].IsLastStage);
    }

    [Theory]
    [InlineData(4, 2, 2, 0, 0)] // 4 heads, 2 KV heads, tp=2 rank 0: heads 0-1 read KV head 0
    [InlineData(4, 2, 2, 1, 1)]
    [InlineData(4, 1, 4, 3, 0)] // MQA: the single KV head on every rank
    [InlineData(8, 2, 4, 1, 0)] // 2 KV heads over 4 ranks: ranks 0-1 replicate head 0
    [InlineData(8, 2, 4, 2, 1)]
    public void Ranks_read_the_kv_heads_their_queries_use(int heads, int kvHeads, int ranks, int rank, int expectedKvStart)
    {
        var config = TinyModels.Config(hiddenSize: heads * 16, numHeads: heads, numKvHeads: kvHeads, intermediateSize: 64);
        var layout = TensorParallelLayout.For(config, rank, ranks);
        Assert.Equal(expectedKvStart, layout.KvHeadStart);
        Assert.Equal(Math.Max(1, kvHeads / ranks), layout.NumKvHeads);
        Assert.Equal(rank * heads / ranks, layout.QueryHeadStart);
        Assert.Equal(64 / ranks, layout.MlpSize);
    }
}
