using Granary.Server.Api.OpenAi;

namespace Granary.Server.Tests.Api;

/// <summary>How an HTTP request names its agent program and the tool it waits on.</summary>
public sealed class AgentTurnTests
{
    [Fact]
    public void The_program_header_wins_over_the_user_field_and_the_tool_comes_from_its_header()
    {
        Assert.Equal(new AgentTurn("p-1", "search"), AgentTurn.Read("p-1", "search", user: "someone"));
        Assert.Equal(new AgentTurn("someone", null), AgentTurn.Read(null, null, user: "someone"));
        Assert.Equal(new AgentTurn(null, null), AgentTurn.Read(null, null, user: null));
    }

    [Theory]
    [InlineData("", null, null, "X-Granary-Program")]
    [InlineData(null, null, "bad\nuser", "user")]
    [InlineData(null, "", null, "X-Granary-Awaiting-Tool")]
    public void A_bad_name_is_a_400_naming_where_it_came_from(string? programHeader, string? toolHeader, string? user, string param)
    {
        var error = Assert.Throws<OpenAiRequestException>(() => AgentTurn.Read(programHeader, toolHeader, user));
        Assert.Equal(param, error.Error.Param);
    }

    [Fact]
    public void An_overlong_program_name_is_refused()
    {
        var error = Assert.Throws<OpenAiRequestException>(() => AgentTurn.Read(new string('p', 257), null, null));
        Assert.Contains("at most 256", error.Message);
    }
}
