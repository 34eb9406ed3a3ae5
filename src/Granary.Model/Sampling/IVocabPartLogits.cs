using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Model.Sampling;

/// <summary>
/// One vocabulary part's logits for the rows of a step, left where they were computed: the sampler asks
/// each part for summaries of rows and, when it must, to walk its own share of a row's distribution, and
/// never moves the logits themselves (gather-free sampling, as in vocabulary parallelism). Calls take many
/// rows at once, so a remote part costs one round trip per question, not one per row.
/// </summary>
public interface IVocabPartLogits : IDisposable
{
    VocabRange Range { get; }

    /// <summary>Each query's row summarized under its scoring, with that row's best <see cref="PartQuery.NumCandidates"/> tokens.</summary>
    IReadOnlyList<VocabPartSummary> Summarize(IReadOnlyList<PartQuery> queries);

    /// <summary>
    /// For each walk, the inverse-CDF draw over this part's tokens in id order with weights
    /// exp(score − <see cref="PartWalk.Reference"/>): the first token whose running weight exceeds
    /// <see cref="PartWalk.Target"/> (the last token with weight when rounding leaves it just out of reach).
    /// </summary>
    IReadOnlyList<int> Walk(IReadOnlyList<PartWalk> walks);

    /// <summary>The raw logit of each (row, token id) pick, every token id in this part's range (log-probabilities of sampled tokens).</summary>
    IReadOnlyList<double> LogitsAt(IReadOnlyList<(int Row, int TokenId)> picks);

    /// <summary>The raw logits [R, count] fp32 on the CPU: for callers that need them whole (tests, log-probabilities).</summary>
    Tensor Read();
}

/// <summary>Summarize row <paramref name="Row"/> under <paramref name="Scoring"/> with its best <paramref name="NumCandidates"/> tokens.</summary>
public sealed record PartQuery(int Row, RowScoring Scoring, int NumCandidates);

/// <summary>Walk row <paramref name="Row"/>'s weights exp(score − <paramref name="Reference"/>) until they pass <paramref name="Target"/>.</summary>
public sealed record PartWalk(int Row, RowScoring Scoring, double Reference, double Target);
