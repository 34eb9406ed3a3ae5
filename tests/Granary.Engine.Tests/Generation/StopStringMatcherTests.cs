using Granary.Engine.Generation;

namespace Granary.Engine.Tests.Generation;

public sealed class StopStringMatcherTests
{
    [Fact]
    public void Text_that_may_begin_a_stop_string_is_held_back_until_it_cannot()
    {
        var matcher = new StopStringMatcher(["END"]);
        Assert.Equal("abc", matcher.Append("abcE"));
        Assert.Equal("", matcher.Append("N"));
        Assert.Equal("ENx", matcher.Append("x"));
        Assert.False(matcher.IsStopped);
    }

    [Fact]
    public void A_stop_string_split_across_pieces_stops_and_is_not_emitted()
    {
        var matcher = new StopStringMatcher(["\n\n", "###"]);
        Assert.Equal("hello", matcher.Append("hello\n"));
        Assert.Equal("\n ", matcher.Append(" #")); // "\n" is released: "\n " cannot begin "\n\n"
        Assert.Equal("", matcher.Append("##tail"));
        Assert.True(matcher.IsStopped);
        Assert.Equal("", matcher.Append("more"));
    }

    [Fact]
    public void The_earliest_of_several_stop_strings_wins()
    {
        var matcher = new StopStringMatcher(["world", "lo"]);
        Assert.Equal("hel", matcher.Append("hello world"));
    }

    [Fact]
    public void Flush_releases_held_text_when_generation_ends()
    {
        var matcher = new StopStringMatcher(["STOP"]);
        Assert.Equal("x", matcher.Append("xST"));
        Assert.Equal("ST", matcher.Flush());
    }
}
