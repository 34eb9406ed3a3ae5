using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>
/// `granary bench vp` on a small synthesized model whose vocabulary dwarfs its layers: without vp the
/// pipeline's ends hold the embedding and LM head; with vp every shard holds the same bytes. No timing assertions.
/// </summary>
public sealed class BenchVocabTests
{
    [Fact]
    public void Json_shows_vocabulary_parallelism_balancing_the_stages()
    {
        var result = Cmd.Run("bench", "vp", "--vocab-size", "4096", "--hidden-size", "32", "--layers", "4",
            "--plans", "pp=4", "pp=4,vp=4", "--batch-size", "2", "--steps", "2", "--json");
        var json = result.Json();

        var plans = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["pp=4", "pp=4,vp=4"], plans.Select(p => p.GetProperty("plan").GetString()));
        var without = plans[0].GetProperty("shards").EnumerateArray().Select(s => s.GetProperty("parameter_bytes").GetInt64()).ToList();
        var with = plans[1].GetProperty("shards").EnumerateArray().Select(s => s.GetProperty("parameter_bytes").GetInt64()).ToList();
        Assert.Equal(4, without.Count);
        Assert.Equal(4, with.Count);
        // Without vp the first and last stages carry a 4096 x 32 fp32 table each on top of their layer.
        Assert.Equal(without[1] + 4096 * 32 * 4, without[0]);
        Assert.True(without[3] > without[1] + 4096 * 32 * 4, "the last stage holds the LM head and the final norm");
        Assert.True(plans[0].GetProperty("parameter_bytes_max_over_min").GetDouble() > 2);
        // With vp each shard holds a quarter of both tables, and the same layers: balanced.
        Assert.True(plans[1].GetProperty("parameter_bytes_max_over_min").GetDouble() <= 1.1, result.Stdout);
        Assert.Equal(without.Sum(), with.Sum()); // the same parameters overall, only placed differently
        Assert.True(json.GetProperty("meets_target").GetBoolean());
        Assert.All(plans, p => Assert.True(p.GetProperty("tokens_per_s").GetDouble() > 0));
        Assert.All(plans.SelectMany(p => p.GetProperty("shards").EnumerateArray()), s => Assert.True(s.GetProperty("busy_ms_per_step").GetDouble() > 0));
    }

    [Fact]
    public void A_plan_the_model_cannot_take_is_a_user_error()
    {
        var result = Cmd.Run("bench", "vp", "--vocab-size", "512", "--hidden-size", "32", "--layers", "2", "--plans", "pp=3");
        Cmd.AssertUserError(result, "pp=3", "layers");
    }
}
