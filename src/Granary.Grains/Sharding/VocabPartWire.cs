using Granary.Model.Sampling;

namespace Granary.Grains.Sharding;

/// <summary>
/// The gather-free sampler's questions and answers on the wire between the router and a vocabulary part's
/// shard (the model-side types stay free of Orleans): a row's scoring, a summary query, a walk, and a summary.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RowScoringWire(
    [property: Id(0)] double Temperature,
    [property: Id(1)] double RepetitionPenalty,
    [property: Id(2)] int[] SeenTokenIds)
{
    // Only the penalty reads the seen tokens: without one, none travel.
    public static RowScoringWire From(RowScoring scoring) =>
        new(scoring.Temperature, scoring.RepetitionPenalty, scoring.HasPenalty ? scoring.SeenTokenIds.ToArray() : []);

    public RowScoring ToScoring() => new(Temperature, RepetitionPenalty, SeenTokenIds.ToHashSet());
}

[GenerateSerializer, Immutable]
public sealed record PartQueryWire(
    [property: Id(0)] int Row,
    [property: Id(1)] RowScoringWire Scoring,
    [property: Id(2)] int NumCandidates)
{
    public static PartQueryWire From(PartQuery q) => new(q.Row, RowScoringWire.From(q.Scoring), q.NumCandidates);

    public PartQuery ToQuery() => new(Row, Scoring.ToScoring(), NumCandidates);
}

[GenerateSerializer, Immutable]
public sealed record PartWalkWire(
    [property: Id(0)] int Row,
    [property: Id(1)] RowScoringWire Scoring,
    [property: Id(2)] double Reference,
    [property: Id(3)] double Target)
{
    public static PartWalkWire From(PartWalk w) => new(w.Row, RowScoringWire.From(w.Scoring), w.Reference, w.Target);

    public PartWalk ToWalk() => new(Row, Scoring.ToScoring(), Reference, Target);
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
