using System.Text.Json;
using Granary.Server.Cli;

namespace Granary.Server.Tests.Support;

/// <summary>What one `granary` invocation left behind.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();

    /// <summary>Parses stdout as one JSON object; fails the test with both streams when it is not one.</summary>
    public JsonElement Json()
    {
        Assert.True(ExitCode == 0, $"exit code {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}");
        try
        {
            using var document = JsonDocument.Parse(Stdout);
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            Assert.Fail($"stdout is not one JSON object ({e.Message})\nstdout: {Stdout}\nstderr: {Stderr}");
            throw;
        }
    }

    public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs the CLI in-process with captured streams.</summary>
public static class Cmd
{
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exitCode = GranaryCli.Run(args, stdout, stderr);
        return new CliResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs and asserts exit code 0.</summary>
    public static CliResult Ok(params string[] args)
    {
        var result = Run(args);
        Assert.True(result.ExitCode == 0, $"granary {string.Join(' ', args)} failed:\n{result}");
        return result;
    }

    public static JsonElement GenerateJson(string modelDir, string prompt, params string[] extra) =>
        Ok(["generate", "--model", modelDir, "--prompt", prompt, "--json", .. extra]).Json();

    public static int[] TokenIds(JsonElement json) =>
        json.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public static string Text(JsonElement json) => json.GetProperty("text").GetString()!;

    public static string FinishReason(JsonElement json) => json.GetProperty("finish_reason").GetString()!;

    /// <summary>
    /// Bad input: a non-zero exit code (2, "bad user input"), nothing on stdout, and exactly one stderr line
    /// "error: ..." that mentions every one of <paramref name="mentions"/> and carries no stack trace.
    /// </summary>
    public static void AssertUserError(CliResult result, params string[] mentions)
    {
        Assert.True(result.ExitCode != 0, $"expected a failure exit code:\n{result}");
        Assert.True(result.ExitCode == GranaryCli.ExitUsage, $"expected exit code {GranaryCli.ExitUsage} (bad user input):\n{result}");
        Assert.True(result.Stdout.Length == 0, $"expected nothing on stdout:\n{result}");
        AssertNoStackTrace(result.Stderr);
        var lines = result.StderrLines;
        Assert.True(lines.Length == 1, $"expected exactly one stderr line, got {lines.Length}:\n{result}");
        Assert.StartsWith("error:", lines[0]);
        Assert.DoesNotContain("Exception", lines[0]);
        foreach (string mention in mentions)
            Assert.True(lines[0].Contains(mention, StringComparison.OrdinalIgnoreCase),
                $"expected the error to mention \"{mention}\":\n{lines[0]}");
    }

    public static void AssertNoStackTrace(string stderr)
    {
        Assert.DoesNotContain("   at ", stderr);
        Assert.DoesNotContain("--- End of", stderr);
        Assert.DoesNotMatch(@"Exception:[^\n]*\n\s+at ", stderr);
        Assert.DoesNotMatch(@"\.cs:line \d+", stderr);
    }
}
