using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>
/// `granary bench pp` on a small model with few steps: every plan row is present with sane figures, bytes
/// are counted where they move (between stages for pp, in all-reduces across silos for tp). No timing assertions.
/// </summary>
public sealed class BenchPipelineTests(GeneratePlanTests.ShardableModel model) : IClassFixture<GeneratePlanTests.ShardableModel>
{
    [Fact]
    public void Json_reports_every_plan_against_no_plan()
    {
        var result = Cmd.Run("bench", "pp", "--model", model.Dir, "--plans", "pp=2", "tp=2", "--batch-size", "4", "--steps", "3", "--json");
        var json = result.Json();

        var rows = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["none", "pp=2", "pp=2", "pp=2", "pp=2", "tp=2"], rows.Select(r => r.GetProperty("plan").GetString()));
        // pp=2 first as the router serves it (a lane per stage, steps not cut), then in one lane each micro-batching way.
        Assert.Equal([1, 2, 1, 1, 1, 1], rows.Select(r => r.GetProperty("lanes").GetInt32()));
        var modes = rows.Select(r => r.GetProperty("micro_batches").GetString()!).ToList();
        Assert.Equal("none", modes[0]);
        Assert.Equal("one", modes[1]);
        Assert.StartsWith("measured (", modes[2]);
        Assert.Equal(["per stage", "one"], modes[3..5]);
        Assert.All(rows, r => Assert.True(r.GetProperty("tokens_per_s").GetDouble() > 0, result.Stdout));
        Assert.All(rows, r => Assert.Equal(4, r.GetProperty("batch_size").GetInt32()));
        Assert.Equal(1.0, rows[0].GetProperty("ratio_to_none").GetDouble());

        // pp=2 moves each token's hidden state (64 fp32 values) to the next stage once, in lanes or not; tp=2 moves none.
        Assert.All(rows[1..5], r => Assert.Equal(64 * 4, r.GetProperty("bytes_between_stages_per_token").GetDouble()));
        Assert.Equal(0, rows[5].GetProperty("bytes_between_stages_per_token").GetDouble());
        // tp=2 on one-slot silos all-reduces across silos: 2 per layer x 3 layers, each rank sending its partial.
        Assert.Equal(2 * 3 * 2 * 64 * 4, rows[5].GetProperty("allreduce_bytes_per_token").GetDouble());
        Assert.Equal(rows[1].GetProperty("ratio_to_none").GetDouble(), json.GetProperty("pp2_ratio").GetDouble());
        Assert.True(json.GetProperty("pp2_ratio").GetDouble() > 0);
        Assert.Equal(0.9, json.GetProperty("target_pp2_ratio").GetDouble());
    }

    [Fact]
    public void A_plan_the_model_cannot_take_is_a_user_error()
    {
        var result = Cmd.Run("bench", "pp", "--model", model.Dir, "--plans", "tp=3");
        Cmd.AssertUserError(result, "tp=3", "attention heads");
    }
}
