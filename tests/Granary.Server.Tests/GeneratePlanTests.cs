using Granary.Server.Tests.Support;
using Granary.TestKit;

namespace Granary.Server.Tests;

/// <summary>`granary generate --plan`: the model cut into in-process shards gives the unsharded tokens.</summary>
public sealed class GeneratePlanTests(GeneratePlanTests.ShardableModel model) : IClassFixture<GeneratePlanTests.ShardableModel>
{
    /// <summary>3 layers (uneven over 2 stages) and 4 heads over 2 KV heads: every plan below can cut it.</summary>
    public sealed class ShardableModel : IDisposable
    {
        readonly TempDirectory _root = new("granary-plan-tests");

        public ShardableModel()
        {
            Dir = _root.Combine("model");
            Cmd.Ok("model", "synth", "--out", Dir, "--layers", "3", "--hidden", "64", "--heads", "4", "--kv-heads", "2",
                "--intermediate", "96", "--vocab", "400", "--seed", "3");
        }

        public string Dir { get; }

        public void Dispose() => _root.Dispose();
    }

    [Theory]
    [InlineData("pp=2,tp=2")]
    [InlineData("pp=3")]
    [InlineData("pp=2,vp=3")]
    [InlineData("pp=2,sp=2")]
    public void Plan_gives_the_tokens_of_no_plan(string plan)
    {
        var unsharded = Cmd.GenerateJson(model.Dir, "Once upon a time", "--temperature", "0", "--max-tokens", "12");
        var sharded = Cmd.GenerateJson(model.Dir, "Once upon a time", "--temperature", "0", "--max-tokens", "12", "--plan", plan);

        Assert.Equal(12, Cmd.TokenIds(sharded).Length);
        Assert.Equal(Cmd.TokenIds(unsharded), Cmd.TokenIds(sharded));
        Assert.Equal(plan, sharded.GetProperty("plan").GetString());
        Assert.Equal("none", unsharded.GetProperty("plan").GetString());
    }

    [Theory]
    [InlineData("tp=3", "plan tp=3: tp=3 must divide the 4 attention heads")]
    [InlineData("pp=4", "plan pp=4: pp=4 needs at least 4 layers but the model has 3")]
    [InlineData("pp=x", "--plan: \"pp=x\" is not KEY=N")]
    [InlineData("vp=100000", "vp=100000 must be between 1 and the vocabulary size")]
    public void A_plan_the_model_cannot_take_is_one_error_line(string plan, string message)
    {
        var result = Cmd.Run("generate", "--model", model.Dir, "--prompt", "x", "--plan", plan);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }
}
