using System.Text.Json;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>`granary generate`: determinism, the --json record, seeded sampling, stop strings, streamed text.</summary>
public sealed class GenerateTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    const string Prompt = "Once upon a time";

    JsonElement Generate(params string[] extra) => Cmd.GenerateJson(fixture.ModelDir, Prompt, extra);

    [Fact]
    public void Greedy_TwiceGivesIdenticalTokens()
    {
        var first = Generate("--temperature", "0", "--max-tokens", "16");
        var second = Generate("--temperature", "0", "--max-tokens", "16");

        Assert.NotEmpty(Cmd.TokenIds(first));
        Assert.Equal(Cmd.TokenIds(first), Cmd.TokenIds(second));
        Assert.Equal(Cmd.Text(first), Cmd.Text(second));
    }

    [Fact]
    public void Json_HasEveryFieldWithSaneValues()
    {
        const int maxTokens = 10;
        var result = Cmd.Run("generate", "--model", fixture.ModelDir, "--prompt", Prompt, "--json",
            "--temperature", "0.8", "--top-p", "0.9", "--top-k", "50", "--repetition-penalty", "1.1",
            "--seed", "123", "--max-tokens", maxTokens.ToString());
        var json = result.Json();
        // One JSON object on one line, and nothing else on stdout.
        Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(JsonValueKind.String, json.GetProperty("text").ValueKind);
        var tokens = Cmd.TokenIds(json);
        Assert.InRange(tokens.Length, 1, maxTokens);
        Assert.All(tokens, id => Assert.InRange(id, 0, 399));
        Assert.True(json.GetProperty("prompt_tokens").GetInt32() > 0);
        Assert.Contains(Cmd.FinishReason(json), new[] { "stop", "length" });
        if (Cmd.FinishReason(json) == "length") Assert.Equal(maxTokens, tokens.Length);
        Assert.Equal(123, json.GetProperty("seed").GetInt64());

        var timings = json.GetProperty("timings");
        foreach (string field in new[] { "load_ms", "prefill_ms", "decode_ms", "decode_tokens_per_s" })
        {
            double value = timings.GetProperty(field).GetDouble();
            Assert.True(value >= 0 && double.IsFinite(value), $"timings.{field} = {value}");
        }
        Assert.True(timings.GetProperty("load_ms").GetDouble() > 0, "load_ms is 0: loading a model takes time");
    }

    [Fact]
    public void Json_PromptTokensCountsThePrompt()
    {
        int shortPrompt = Cmd.GenerateJson(fixture.ModelDir, "Hi", "--max-tokens", "1").GetProperty("prompt_tokens").GetInt32();
        int longPrompt = Cmd.GenerateJson(fixture.ModelDir, string.Join(' ', Enumerable.Repeat("Hi there", 20)), "--max-tokens", "1")
            .GetProperty("prompt_tokens").GetInt32();
        Assert.True(shortPrompt >= 1);
        Assert.True(longPrompt > shortPrompt + 10, $"prompt_tokens {longPrompt} for a long prompt vs {shortPrompt} for \"Hi\"");
    }

    [Fact]
    public void MaxTokens_BoundsTheOutput_AndLengthIsTheFinishReason()
    {
        for (int maxTokens = 1; maxTokens <= 3; maxTokens++)
        {
            var json = Generate("--temperature", "0", "--max-tokens", maxTokens.ToString());
            int count = Cmd.TokenIds(json).Length;
            Assert.InRange(count, 1, maxTokens);
            Assert.Equal(count < maxTokens ? "stop" : "length", Cmd.FinishReason(json));
        }
    }

    [Fact]
    public void SeededSampling_TwiceIsIdentical_AndAnotherSeedDiffers()
    {
        string[] sampling = ["--temperature", "1", "--max-tokens", "16"];
        var a = Generate([.. sampling, "--seed", "7"]);
        var b = Generate([.. sampling, "--seed", "7"]);
        var c = Generate([.. sampling, "--seed", "8"]);

        Assert.Equal(7, a.GetProperty("seed").GetInt64());
        Assert.Equal(Cmd.TokenIds(a), Cmd.TokenIds(b));
        Assert.Equal(Cmd.Text(a), Cmd.Text(b));
        Assert.NotEqual(Cmd.TokenIds(a), Cmd.TokenIds(c));
    }

    [Fact]
    public void UnseededSampling_ReportsTheSeedItDrew_AndThatSeedReproducesTheRun()
    {
        var drawn = Generate("--temperature", "1", "--max-tokens", "12");
        long seed = drawn.GetProperty("seed").GetInt64();
        var replay = Generate("--temperature", "1", "--max-tokens", "12", "--seed", seed.ToString());
        Assert.Equal(Cmd.TokenIds(drawn), Cmd.TokenIds(replay));
    }

    [Fact]
    public void Stop_TruncatesBeforeTheStopString()
    {
        string[] greedy = ["--temperature", "0", "--max-tokens", "24"];
        var free = Generate(greedy);
        string text = Cmd.Text(free);
        var (stop, at) = PickStopString(text);

        var stopped = Generate([.. greedy, "--stop", stop]);

        Assert.Equal("stop", Cmd.FinishReason(stopped));
        Assert.Equal(text[..at], Cmd.Text(stopped));
        var freeTokens = Cmd.TokenIds(free);
        var stoppedTokens = Cmd.TokenIds(stopped);
        Assert.True(stoppedTokens.Length < freeTokens.Length, $"{stoppedTokens.Length} tokens with --stop, {freeTokens.Length} without");
        Assert.Equal(freeTokens[..stoppedTokens.Length], stoppedTokens);
    }

    [Fact]
    public void Stop_SeveralStopStrings_TheEarliestWins()
    {
        string[] greedy = ["--temperature", "0", "--max-tokens", "24"];
        string text = Cmd.Text(Generate(greedy));
        var (stop, at) = PickStopString(text);

        var stopped = Generate([.. greedy, "--stop", "never-generated-string", "--stop", stop]);

        Assert.Equal("stop", Cmd.FinishReason(stopped));
        Assert.Equal(text[..at], Cmd.Text(stopped));
    }

    [Fact]
    public void Stop_StringThatNeverAppears_ChangesNothing()
    {
        string[] greedy = ["--temperature", "0", "--max-tokens", "12"];
        var free = Generate(greedy);
        var withStop = Generate([.. greedy, "--stop", "never-generated-string"]);
        Assert.Equal(Cmd.TokenIds(free), Cmd.TokenIds(withStop));
        Assert.Equal(Cmd.FinishReason(free), Cmd.FinishReason(withStop));
    }

    [Fact]
    public void WithoutJson_StdoutIsTheSameTextPlusANewline()
    {
        string[] greedy = ["--temperature", "0", "--max-tokens", "16"];
        string expected = Cmd.Text(Generate(greedy));

        var streamed = Cmd.Ok(["generate", "--model", fixture.ModelDir, "--prompt", Prompt, .. greedy]);

        Assert.Equal(expected + Environment.NewLine, streamed.Stdout);
    }

    [Fact]
    public void Chat_WrapsThePromptInTheChatTemplate()
    {
        var plain = Generate("--temperature", "0", "--max-tokens", "4");
        var chat = Generate("--temperature", "0", "--max-tokens", "4", "--chat");
        Assert.True(chat.GetProperty("prompt_tokens").GetInt32() > plain.GetProperty("prompt_tokens").GetInt32() + 3,
            "--chat did not add the chat template's tokens to the prompt");
    }

    [Fact]
    public void DTypeOverride_RunsAnFp32CheckpointInBf16()
    {
        var json = Generate("--temperature", "0", "--max-tokens", "4", "--dtype", "bf16");
        Assert.InRange(Cmd.TokenIds(json).Length, 1, 4);
    }

    [Fact]
    public void MaxTokensPastTheContext_StopsAtTheContext()
    {
        string dir = TinyModel.Synth(fixture.NewDir("ctx32"), seed: 1, "--max-position", "32");
        var json = Cmd.GenerateJson(dir, "Hi", "--temperature", "0", "--max-tokens", "100");
        int prompt = json.GetProperty("prompt_tokens").GetInt32();
        int generated = Cmd.TokenIds(json).Length;
        Assert.True(prompt + generated <= 32, $"{prompt} prompt + {generated} generated tokens in a 32-token context");
        Assert.Contains(Cmd.FinishReason(json), new[] { "stop", "length" });
    }

    /// <summary>
    /// A run of three ASCII letters whose first occurrence in <paramref name="text"/> is at index >= 1.
    /// </summary>
    static (string Stop, int At) PickStopString(string text)
    {
        for (int i = 1; i + 3 <= text.Length; i++)
        {
            string candidate = text.Substring(i, 3);
            if (!candidate.All(char.IsAsciiLetter)) continue;
            if (text.IndexOf(candidate, StringComparison.Ordinal) != i) continue;
            return (candidate, i);
        }
        Assert.Fail($"no usable stop string in the greedy output {JsonSerializer.Serialize(text)}; change the prompt");
        return default;
    }
}
