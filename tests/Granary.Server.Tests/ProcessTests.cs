using Granary.Server.Tests.Support;

namespace Granary.Server.Tests;

/// <summary>The real `granary` executable: exit codes and output as a shell sees them.</summary>
public sealed class ProcessTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void MissingModelFolder_ExitsTwoWithOneErrorLineAndNoStackTrace()
    {
        string missing = fixture.NewDir("does-not-exist");
        var result = GranaryProcess.Run(Timeout, "generate", "--model", missing, "--prompt", "Hello");
        Cmd.AssertUserError(result, missing);
    }

    [Fact]
    public void GreedyJson_TwiceGivesIdenticalTokens()
    {
        string[] args = ["generate", "--model", fixture.ModelDir, "--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "12", "--json"];
        var first = GranaryProcess.Run(Timeout, args);
        var second = GranaryProcess.Run(Timeout, args);

        var firstTokens = Cmd.TokenIds(first.Json());
        Assert.NotEmpty(firstTokens);
        Assert.Equal(firstTokens, Cmd.TokenIds(second.Json()));
        // The executable gives what the in-process CLI gives.
        Assert.Equal(firstTokens, Cmd.TokenIds(Cmd.GenerateJson(fixture.ModelDir, "Once upon a time", "--temperature", "0", "--max-tokens", "12")));
        Cmd.AssertNoStackTrace(first.Stderr);
    }

    [Fact]
    public void Synth_ThenGenerate_ThroughTheExecutable()
    {
        string dir = fixture.NewDir("process-synth");
        var synth = GranaryProcess.Run(Timeout, ["model", "synth", "--out", dir, .. TinyModel.Shape, "--seed", "1"]);
        Assert.True(synth.ExitCode == 0, synth.ToString());
        // Same seed as the fixture's model, written by another process: byte-identical weights.
        Assert.Equal(File.ReadAllBytes(Path.Combine(fixture.ModelDir, "model.safetensors")), File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));

        var streamed = GranaryProcess.Run(Timeout, "generate", "--model", dir, "--prompt", "Once upon a time", "--temperature", "0", "--max-tokens", "12");
        Assert.True(streamed.ExitCode == 0, streamed.ToString());
        string expected = Cmd.Text(Cmd.GenerateJson(fixture.ModelDir, "Once upon a time", "--temperature", "0", "--max-tokens", "12"));
        Assert.Equal(expected + "\n", streamed.Stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public void UnknownFlag_ExitsNonZeroWithoutAStackTrace()
    {
        var result = GranaryProcess.Run(Timeout, "generate", "--model", fixture.ModelDir, "--prompt", "Hello", "--no-such-flag");
        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("--no-such-flag", result.Stderr);
        Cmd.AssertNoStackTrace(result.Stderr);
    }
}
