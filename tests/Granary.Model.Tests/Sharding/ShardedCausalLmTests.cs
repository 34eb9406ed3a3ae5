using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Model.Configuration;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Granary.Model.Sharding;
using Granary.Model.Synthesis;
using Granary.TestKit;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Sharding;

/// <summary>
/// Every plan is exact: the same greedy tokens as the single-device model, and logits within 1e-4, over a
/// prefill, batched decode steps of sequences at different positions, and a mixed prefill + decode step.
/// </summary>
public sealed class ShardedCausalLmTests
{
    const double LogitTolerance = 1e-4;

    public static TheoryData<string, string> PlansAndShapes => new()
    {
        { "pp=2", "llama-gqa" },
        { "pp=3", "llama-gqa" },       // 5 layers over 3 stages: 2, 2, 1
        { "tp=2", "llama-gqa" },
        { "tp=4", "llama-gqa" },       // 2 KV heads over 4 ranks: each replicated twice
        { "pp=2,tp=2", "llama-gqa" },
        { "tp=2", "qwen2-bias" },      // q/k/v biases are column slices
        { "pp=2,tp=2", "tied-mqa" },   // tied LM head on the last stage; one KV head replicated
        { "tp=4", "tied-mqa" },
        { "vp=2", "llama-gqa" },       // one part on the only layer shard, one on a vocabulary-only shard
        { "vp=4", "llama-gqa" },
        { "vp=3", "qwen2-bias" },      // 512 ids: 171 + 171 + 170
        { "vp=2", "tied-mqa" },        // tied: a part's embedding rows are its LM head rows
        { "pp=4,vp=4", "llama-gqa" },  // a part on every stage
        { "pp=2,tp=2,vp=2", "llama-gqa" },
        { "pp=2,tp=2,vp=2", "tied-mqa" },
        { "sp=2", "llama-gqa" },       // prompts split over 2 shards, decode tokens to the shard with room
        { "sp=4", "llama-gqa" },
        { "sp=3", "qwen2-bias" },
        { "sp=2", "tied-mqa" },
        { "pp=2,sp=2", "llama-gqa" },
        { "pp=2,sp=2,vp=2", "tied-mqa" },
    };

    [Theory]
    [MemberData(nameof(PlansAndShapes))]
    public void Plan_gives_the_single_device_tokens_and_logits(string planText, string shape)
    {
        using var folder = new SynthesizedModelFolder(Shape(shape));
        var options = new ModelLoadOptions(null, "cpu");
        using var reference = ModelLoader.Load(folder.Path, options);
        using var sharded = ShardedCausalLm.Load(folder.Path, options, ParallelPlan.Parse(planText));

        var referenceRun = MixedStepScript.Run(reference.Model);
        var shardedRun = MixedStepScript.Run(sharded);

        Assert.Equal(referenceRun.Tokens, shardedRun.Tokens);
        double difference = MixedStepScript.MaxLogitDifference(referenceRun, shardedRun);
        Assert.True(difference <= LogitTolerance, $"logits differ by {difference:G3} (> {LogitTolerance})");
    }

    [Fact]
    public void Shards_hold_only_their_layers_and_slices()
    {
        using var folder = new SynthesizedModelFolder(Shape("llama-gqa"));
        using var sharded = ShardedCausalLm.Load(folder.Path, new ModelLoadOptions(null, "cpu"), ParallelPlan.Parse("pp=2,tp=2"));
        using var whole = ModelLoader.Load(folder.Path, new ModelLoadOptions(null, "cpu"));

        var first = sharded.Shard(0, 1).Network.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var last = sharded.Shard(1, 0).Network.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Contains("model.embed_tokens.weight", first.Keys);
        Assert.DoesNotContain("lm_head.weight", first.Keys);
        Assert.Contains("lm_head.weight", last.Keys);
        Assert.Contains("model.layers.2.self_attn.q_proj.weight", first.Keys); // 5 layers: stage 0 has 0-2
        Assert.DoesNotContain("model.layers.3.self_attn.q_proj.weight", first.Keys);
        Assert.Contains("model.layers.3.self_attn.q_proj.weight", last.Keys);
        Assert.Equal([32L, 64L], first["model.layers.0.self_attn.q_proj.weight"]);  // 2 of 4 heads x 16
        Assert.Equal([64L, 32L], first["model.layers.0.self_attn.o_proj.weight"]);  // row-parallel: input columns
        Assert.Equal([16L, 64L], first["model.layers.0.self_attn.k_proj.weight"]);  // 1 of 2 KV heads
        Assert.Equal([64L, 64L], first["model.layers.0.mlp.gate_proj.weight"]);     // 64 of 128 columns
        Assert.Equal([64L, 64L], first["model.layers.0.mlp.down_proj.weight"]);

        // Rank 1's slice is the second half of the checkpoint's rows.
        var wholeQ = whole.Model.Network.named_parameters().Single(p => p.name == "model.layers.0.self_attn.q_proj.weight").parameter;
        var rankQ = sharded.Shard(0, 1).Network.named_parameters().Single(p => p.name == "model.layers.0.self_attn.q_proj.weight").parameter;
        Assert.True(wholeQ.narrow(0, 32, 32).equal(rankQ).all().item<bool>());
        Assert.True(sharded.NumWeightBytes > whole.Model.NumWeightBytes); // embeddings and norms are replicated over ranks
    }

    [Fact]
    public void Vocabulary_parts_spread_over_the_stages_and_hold_equal_rows()
    {
        using var folder = new SynthesizedModelFolder(Shape("llama-gqa"));
        using var sharded = ShardedCausalLm.Load(folder.Path, new ModelLoadOptions(null, "cpu"), ParallelPlan.Parse("pp=2,vp=4"));

        var specs = sharded.AllShards.Select(s => s.Network.Shard).ToList();
        Assert.Equal(4, specs.Count); // two stages, two vocabulary-only shards
        Assert.Equal([0, 1, 2, 3], specs.Select(s => s.Vocab!.Part));
        Assert.Equal([0, 1, -1, -1], specs.Select(s => s.Stage));
        Assert.All(specs, s => Assert.Equal(128, s.Vocab!.Count));
        foreach (var shard in sharded.AllShards)
        {
            var names = shard.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
            Assert.Equal([128L, 64L], names["model.embed_tokens.weight"]);
            Assert.Equal([128L, 64L], names["lm_head.weight"]);
        }
        // Part 1 (stage 1) holds rows 128..255 of the checkpoint's LM head.
        using var whole = ModelLoader.Load(folder.Path, new ModelLoadOptions(null, "cpu"));
        var wholeHead = whole.Model.Network.named_parameters().Single(p => p.name == "lm_head.weight").parameter;
        var partHead = sharded.Shard(1, 0).Network.named_parameters().Single(p => p.name == "lm_head.weight").parameter;
        Assert.True(wholeHead.narrow(0, 128, 128).equal(partHead).all().item<bool>());
    }

    [Theory]
    [InlineData("pp=6", "plan pp=6: pp=6 needs at least 6 layers but the model has 5")]
    [InlineData("tp=3", "tp=3 must divide the 4 attention heads")]
    [InlineData("tp=8", "tp=8 must divide the 4 attention heads")]
    public void A_plan_the_model_cannot_take_is_a_user_error(string planText, string message)
    {
        using var folder = new SynthesizedModelFolder(Shape("llama-gqa"));
        var error = Assert.Throws<GranaryUserError>(() => ShardedCausalLm.Load(folder.Path, new ModelLoadOptions(null, "cpu"), ParallelPlan.Parse(planText)));
        Assert.Contains(message, error.Message);
    }

    static SynthesisOptions Shape(string name) => name switch
    {
        "llama-gqa" => SynthesizedModelFolder.SmallOptions with { NumLayers = 5, NumHeads = 4, NumKvHeads = 2 },
        "qwen2-bias" => SynthesizedModelFolder.SmallOptions with { Architecture = ModelArchitecture.Qwen2, NumLayers = 3, NumHeads = 4, NumKvHeads = 2 },
        "tied-mqa" => SynthesizedModelFolder.SmallOptions with { NumLayers = 4, NumHeads = 4, NumKvHeads = 1, TieWordEmbeddings = true },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
