using Granary.Model.Sampling;

namespace Granary.Grains.Sharding;

/// <summary>
/// The gather-free sampler's questions and answers on the wire between the router and a vocabulary part's
/// shard (the model-side types stay free of Orleans): a row summary query, a walk, and a summary.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PartQueryWire(
    [property: Id(0)] int Row,
    [property: Id(1)] double Temperature,
    [property: Id(2)] double RepetitionPenalty,
    [property: Id(3)] int[] SeenTokenIds,
    [property: Id(4)] int NumCandidates)
{
    public static PartQueryWire From(PartQuery q) =>
        new(q.Row, q.Scoring.Temperature, q.Scoring.RepetitionPenalty, SeenOf(q.Scoring), q.NumCandidates);

    public PartQuery ToQuery() => new(Row, ScoringOf(Temperature, RepetitionPenalty, SeenTokenIds), NumCandidates);

    // Only the penalty reads the seen tokens: without one, none travel.
    internal static int[] SeenOf(RowScoring scoring) => scoring.HasPenalty ? scoring.SeenTokenIds.ToArray() : [];

    internal static RowScoring ScoringOf(double temperature, double penalty, int[] seen) => new(temperature, penalty, seen.ToHashSet());
}

[GenerateSerializer, Immutable]
public sealed record PartWalkWire(
    [property: Id(0)] int Row,
    [property: Id(1)] double Temperature,
    [property: Id(2)] double RepetitionPenalty,
    [property: Id(3)] int[] SeenTokenIds,
    [property: Id(4)] double Reference,
    [property: Id(5)] double Target)
{
    public static PartWalkWire From(PartWalk w) =>
        new(w.Row, w.Scoring.Temperature, w.Scoring.RepetitionPenalty, PartQueryWire.SeenOf(w.Scoring), w.Reference, w.Target);

    public PartWalk ToWalk() => new(Row, PartQueryWire.ScoringOf(Temperature, RepetitionPenalty, SeenTokenIds), Reference, Target);
}

[GenerateSerializer, Immutable]
public sealed record PartSummaryWire(
    [property: Id(0)] double MaxScore,
    [property: Id(1)] int ArgMax,
    [property: Id(2)] double LogSumExp,
    [property: Id(3)] int[] CandidateIds,
    [property: Id(4)] double[] CandidateScores,
    [property: Id(5)] bool IsComplete)
{
    public static PartSummaryWire From(VocabPartSummary s) => new(s.MaxScore, s.ArgMax, s.LogSumExp, s.CandidateIds, s.CandidateScores, s.IsComplete);

    public VocabPartSummary ToSummary() => new(MaxScore, ArgMax, LogSumExp, CandidateIds, CandidateScores) { IsComplete = IsComplete };
}
