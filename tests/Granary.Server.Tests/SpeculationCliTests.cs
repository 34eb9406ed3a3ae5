using System.Text.Json;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>`generate --draft --speculate --draft-vocab` and `bench spec` on the shipped pair; their bad input.</summary>
public sealed class SpeculationCliTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    const string Prompt = "def fibonacci(n):";

    static JsonElement GenerateDefault(params string[] extra) =>
        Cmd.Ok(["generate", "--prompt", Prompt, "--max-tokens", "40", "--temperature", "0", "--json", .. extra]).Json();

    [Fact]
    public void Generate_with_the_default_draft_gives_the_plain_greedy_tokens_and_reports_acceptance()
    {
        var plain = GenerateDefault();
        var speculative = GenerateDefault("--draft", "default", "--speculate", "3");
        var trimmed = GenerateDefault("--draft", "default", "--speculate", "3", "--draft-vocab", "1024");
        Assert.Equal(Cmd.TokenIds(plain), Cmd.TokenIds(speculative));
        Assert.Equal(Cmd.TokenIds(plain), Cmd.TokenIds(trimmed));
        Assert.False(plain.TryGetProperty("speculation", out _));
        var stats = speculative.GetProperty("speculation");
        Assert.True(stats.GetProperty("draft_tokens").GetInt64() > 0);
        Assert.InRange(stats.GetProperty("acceptance_rate").GetDouble(), 0.2, 1.0); // the shipped draft agrees ~70% of the time
        Assert.InRange(stats.GetProperty("mean_accepted_length").GetDouble(), 1.0, 4.0);
    }

    [Fact]
    public void Bad_speculation_flags_are_user_errors_naming_the_flag()
    {
        Cmd.AssertUserError(Cmd.Run("generate", "--prompt", "x", "--draft", "default", "--speculate", "40"), "--speculate");
        string missing = fixture.NewDir("no-draft");
        Cmd.AssertUserError(Cmd.Run("generate", "--prompt", "x", "--draft", missing), "--draft", missing);
        // The tiny model has another vocabulary than the default target.
        Cmd.AssertUserError(Cmd.Run("generate", "--prompt", "x", "--draft", fixture.ModelDir), "--draft", "vocab");
        // VocabTrim needs vocab_trim.json beside the draft.
        Cmd.AssertUserError(Cmd.Run("generate", "--model", fixture.ModelDir, "--prompt", "x", "--draft", fixture.ModelDir, "--draft-vocab", "64"), "--draft-vocab", "vocab_trim.json");
        Cmd.AssertUserError(Cmd.Run("generate", "--prompt", "x", "--draft", "default", "--draft-vocab", "-1"), "--draft-vocab");
    }

    [Fact]
    public void Bench_spec_reports_every_configuration_at_every_batch_size()
    {
        var result = Cmd.Run("bench", "spec", "--batch-sizes", "1", "2", "--max-tokens", "8", "--repeats", "1", "--draft-vocab", "512", "--json");
        var json = result.Json();
        var rows = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(6, rows.Count);
        foreach (string config in new[] { "plain", "speculative", "speculative_vocab_trim" })
            Assert.Equal([1, 2], rows.Where(r => r.GetProperty("config").GetString() == config).Select(r => r.GetProperty("batch_size").GetInt32()).Order());
        Assert.All(rows, r => Assert.True(r.GetProperty("tokens_per_s").GetDouble() > 0, result.Stdout));
        Assert.All(rows.Where(r => r.GetProperty("config").GetString() != "plain"),
            r => Assert.InRange(r.GetProperty("acceptance_rate").GetDouble(), 0.0, 1.0));
        Assert.Equal(4, json.GetProperty("speedups").GetArrayLength());
        Assert.InRange(json.GetProperty("vocab_trim_coverage").GetDouble(), 0.5, 1.0);
        Assert.Empty(result.StderrLines);
    }
}
