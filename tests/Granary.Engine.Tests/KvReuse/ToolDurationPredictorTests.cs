using Granary.Engine.KvReuse;

namespace Granary.Engine.Tests.KvReuse;

public sealed class ToolDurationPredictorTests
{
    [Fact]
    public void A_tool_never_seen_gets_the_default_and_then_a_high_quantile_of_its_own_gaps()
    {
        var predictor = new ToolDurationPredictor(TimeSpan.FromSeconds(5), quantile: 0.9);
        Assert.Equal(TimeSpan.FromSeconds(5), predictor.Predict("search"));
        for (int i = 1; i <= 10; i++) predictor.Observe("search", TimeSpan.FromSeconds(i));
        Assert.Equal(TimeSpan.FromSeconds(9), predictor.Predict("search")); // nearest rank: the 9th of 10
        Assert.Equal(TimeSpan.FromSeconds(5), predictor.Predict("compile")); // per tool
    }

    [Fact]
    public void Only_the_latest_window_of_gaps_counts()
    {
        var predictor = new ToolDurationPredictor(TimeSpan.FromSeconds(5), quantile: 1.0);
        predictor.Observe("search", TimeSpan.FromSeconds(100));
        for (int i = 0; i < ToolDurationPredictor.WindowSize; i++) predictor.Observe("search", TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(2), predictor.Predict("search"));
        Assert.Equal(ToolDurationPredictor.WindowSize, predictor.NumObservations("search"));
    }

    [Fact]
    public void Longer_programs_hold_their_kv_longer_up_to_twice()
    {
        Assert.Equal(1.0, ToolDurationPredictor.TurnScale(1));
        Assert.True(ToolDurationPredictor.TurnScale(3) > ToolDurationPredictor.TurnScale(2));
        Assert.Equal(2.0, ToolDurationPredictor.TurnScale(50));
    }
}
