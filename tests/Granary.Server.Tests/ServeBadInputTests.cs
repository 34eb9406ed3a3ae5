using Granary.Server.Tests.Support;
using Granary.TestKit;

namespace Granary.Server.Tests;

/// <summary>`granary serve` refuses bad settings before starting anything: one line naming the setting, exit code 2.</summary>
public sealed class ServeBadInputTests(BadInputFixture models) : IClassFixture<BadInputFixture>
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("--redis", "nonsense", "--redis")]
    [InlineData("--urls", "ftp://127.0.0.1:1", "Urls")]
    [InlineData("--max-num-seqs", "0", "MaxNumSeqs")]
    [InlineData("--dtype", "int3", "--dtype")]
    [InlineData("--plan", "pp=two", "--plan")]
    [InlineData("--plan", "pp=99", "--plan: plan pp=99: pp=99 needs at least 99 layers")]
    [InlineData("--plan", "tp=3", "--plan: plan tp=3: tp=3 must divide")]
    [InlineData("--devices", "-1", "--devices")]
    [InlineData("--pipeline-lanes", "0", "--pipeline-lanes")]
    [InlineData("--pipeline-lanes", "17", "--pipeline-lanes) must be in 1..16")]
    public void A_bad_flag_is_named(string flag, string value, string named)
    {
        var result = GranaryProcess.Run(Timeout, "serve", "--model", models.ModelDir, flag, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(named, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout);
    }

    [Fact]
    public void A_missing_model_folder_is_named()
    {
        var result = GranaryProcess.Run(Timeout, "serve", "--model", models.NewDir("absent"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--model", result.Stderr);
    }

    [Fact]
    public void A_setting_from_the_environment_is_validated_like_a_flag()
    {
        var result = GranaryProcess.Run(Timeout, new Dictionary<string, string> { ["GRANARY__MAXNUMWAITING"] = "-1" },
            "serve", "--model", models.ModelDir);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Granary:MaxNumWaiting", result.Stderr);
    }

    [Fact]
    public void A_redis_that_does_not_answer_is_one_clear_line_not_a_stack_trace()
    {
        int closedPort = FreePorts.Next();
        var result = GranaryProcess.Run(Timeout, "serve", "--model", models.ModelDir, "--redis", $"127.0.0.1:{closedPort}");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"--redis 127.0.0.1:{closedPort}", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout);
    }

    [Fact]
    public void A_malformed_otlp_endpoint_is_one_clear_line()
    {
        var result = GranaryProcess.Run(Timeout, new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "collector:4317" },
            "serve", "--model", models.ModelDir);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("OTEL_EXPORTER_OTLP_ENDPOINT", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout);
    }
}
