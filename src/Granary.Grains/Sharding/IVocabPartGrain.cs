namespace Granary.Grains.Sharding;

/// <summary>
/// The vocabulary-parallel face of a shard grain (same key, same activation as its <see cref="IShardGrain"/>):
/// the shard's range of the embedding and LM head. The router sums the parts' partial embeddings, and samples
/// from the parts' logits by asking for summaries and walks, never for the logits themselves.
/// </summary>
public interface IVocabPartGrain : IGrainWithStringKey
{
    /// <summary>Vocabulary part: its share of the embeddings of token ids [T] (zero rows for ids outside its range).</summary>
    Task<TensorPayload> EmbedPart(TensorPayload tokenIds);

    /// <summary>
    /// Vocabulary part: computes and keeps the logits of its range for the last stage's hidden states [R, D]
    /// (step <paramref name="headStepId"/>), dropping the previous step's. Nothing vocabulary-sized comes back.
    /// </summary>
    Task ComputeLogits(long headStepId, TensorPayload hidden);

    /// <summary>Vocabulary part: summaries of rows of step <paramref name="headStepId"/>'s logits (gather-free sampling).</summary>
    Task<PartSummaryWire[]> SummarizeLogits(long headStepId, PartQueryWire[] queries);

    /// <summary>Vocabulary part: inverse-CDF walks over its range in rows of step <paramref name="headStepId"/>'s logits.</summary>
    Task<int[]> WalkLogits(long headStepId, PartWalkWire[] walks);

    /// <summary>Vocabulary part: the raw logits of (row, token id) picks of step <paramref name="headStepId"/>, every id in its range.</summary>
    Task<double[]> LogitsAt(long headStepId, int[] rows, int[] tokenIds);

    /// <summary>Vocabulary part: the whole logits [R, count] of step <paramref name="headStepId"/> (for callers that need them).</summary>
    Task<TensorPayload> ReadLogits(long headStepId);

}
