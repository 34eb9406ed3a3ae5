using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>`granary bench sp` with a small budget: each width really prefills budget x width tokens and refuses one more. No timing assertions.</summary>
public sealed class BenchSequenceTests
{
    [Fact]
    public void Json_reports_the_longest_prompt_growing_with_the_shards()
    {
        var result = Cmd.Run("bench", "sp", "--kv-tokens-per-shard", "24", "--widths", "1", "2", "4", "--prefill-chunk", "16",
            "--hidden-size", "32", "--layers", "2", "--json");
        var json = result.Json();

        var rows = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([1, 2, 4], rows.Select(r => r.GetProperty("sp").GetInt32()));
        Assert.Equal([24, 48, 96], rows.Select(r => r.GetProperty("longest_prompt").GetInt32()));
        Assert.All(rows, r => Assert.True(r.GetProperty("longer_refused").GetBoolean()));
        Assert.All(rows, r => Assert.True(r.GetProperty("prefill_ms").GetDouble() > 0));
        Assert.Equal(4.0, json.GetProperty("longest_ratio").GetDouble());
        Assert.True(json.GetProperty("meets_target").GetBoolean());
    }

    [Fact]
    public void A_bad_width_is_a_user_error()
    {
        var result = Cmd.Run("bench", "sp", "--widths", "0");
        Cmd.AssertUserError(result, "--widths");
    }
}
