using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>`granary bench agent` on a tiny workload: the report's shape, and arms that differ the way they must.</summary>
public sealed class BenchAgentTests
{
    [Fact]
    public void The_three_arms_serve_the_same_prompts_and_no_reuse_computes_them_all()
    {
        var result = Cmd.Run("bench", "agent", "--programs", "5", "--turns", "3", "--system-tokens", "48", "--task-tokens", "16",
            "--output-tokens", "4", "--tool-tokens", "8", "--restore-tokens", "128", "--json");
        var json = result.Json();
        var arms = json.GetProperty("arms").EnumerateArray().ToDictionary(a => a.GetProperty("name").GetString()!);
        Assert.Equal(["granary_ttl_tiers", "lru_prefix_cache", "no_reuse"], arms.Keys.Order());

        long Prompt(string arm) => arms[arm].GetProperty("prefill_tokens").GetInt64() + arms[arm].GetProperty("cached_prompt_tokens").GetInt64();
        // Restores are exact, so every arm generates the same tokens and sees the same prompts.
        Assert.Equal(Prompt("no_reuse"), Prompt("lru_prefix_cache"));
        Assert.Equal(Prompt("no_reuse"), Prompt("granary_ttl_tiers"));
        Assert.Equal(0, arms["no_reuse"].GetProperty("cached_prompt_tokens").GetInt64());
        Assert.True(arms["lru_prefix_cache"].GetProperty("prefill_tokens").GetInt64() < arms["no_reuse"].GetProperty("prefill_tokens").GetInt64(), result.Stdout);
        Assert.True(arms["granary_ttl_tiers"].GetProperty("prefill_tokens").GetInt64() < arms["no_reuse"].GetProperty("prefill_tokens").GetInt64(), result.Stdout);
        Assert.Equal(0, arms["lru_prefix_cache"].GetProperty("hits_by_tier").GetProperty("host").GetInt64()); // LRU has no lower tier
        foreach (var arm in arms.Values)
        {
            Assert.True(arm.GetProperty("mean_jct_s").GetDouble() > 0);
            Assert.True(arm.GetProperty("p90_jct_s").GetDouble() >= arm.GetProperty("mean_jct_s").GetDouble() * 0.5);
        }
        var speedups = json.GetProperty("speedups");
        foreach (string ratio in new[] { "mean_jct_vs_no_reuse", "mean_jct_vs_lru", "p90_jct_vs_no_reuse", "p90_jct_vs_lru" })
            Assert.True(speedups.GetProperty(ratio).GetDouble() > 0, ratio);
        var restore = json.GetProperty("restore");
        Assert.Equal(128, restore.GetProperty("context_tokens").GetInt32());
        foreach (string seconds in new[] { "reprefill_s", "host_s", "cxl_s" }) Assert.True(restore.GetProperty(seconds).GetDouble() > 0, seconds);
        Assert.Empty(result.StderrLines);
    }

    [Fact]
    public void A_bad_flag_is_named()
    {
        Cmd.AssertUserError(Cmd.Run("bench", "agent", "--programs", "0"), "--programs");
        Cmd.AssertUserError(Cmd.Run("bench", "agent", "--kv-budget-programs", "0.5"), "--kv-budget-programs");
    }
}
