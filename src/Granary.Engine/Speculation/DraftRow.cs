using Granary.Engine.Generation;
using Granary.Model.KvCache;
using Granary.Model.Sampling;

namespace Granary.Engine.Speculation;

/// <summary>
/// One sequence's draft work for a step, independent of where the draft runs: its draft cache, the context
/// that cache has not seen yet (fed by the first draft forward), how many tokens to propose, and for a
/// sampled sequence how to draw them.
/// </summary>
public sealed record DraftRow(IKvCache Cache, int[] UnseenTokens, int NumTokens, DraftSampling? Sampling)
{
    /// <summary>
    /// The row for <paramref name="sequence"/> with a draft cache of <paramref name="cache"/>'s length: the
    /// context tokens [cache length, NumTokens), everything up to and including the last emitted token.
    /// </summary>
    public static DraftRow For(Sequence sequence, IKvCache cache, int numTokens) => new(
        cache, UnseenContext(sequence, cache.Length), numTokens,
        sequence.Sampler.Parameters.IsGreedy ? null : new DraftSampling(sequence.Sampler, sequence.Sampler.NextUniform));

    public static int[] UnseenContext(Sequence sequence, int cacheLength) =>
        Enumerable.Range(cacheLength, sequence.NumTokens - cacheLength).Select(sequence.TokenAt).ToArray();
}

/// <summary>
/// How a sampled row draws its draft tokens: <paramref name="Sampler"/>'s proposal distribution (temperature,
/// top-k, top-p), and one uniform per token from <paramref name="NextUniform"/> (the sequence's own stream, or
/// uniforms drawn from it in advance when the draft runs elsewhere: the same numbers in the same order).
/// </summary>
public sealed record DraftSampling(SequenceSampler Sampler, Func<double> NextUniform);
