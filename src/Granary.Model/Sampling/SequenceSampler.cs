using Granary.Model.Runtime;
using Granary.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Sampling;

/// <summary>
/// One sequence's sampling state: its parameters, its own seeded random stream (so a request's tokens do
/// not depend on what else is in the batch), and the tokens seen so far for the repetition penalty.
/// </summary>
public sealed class SequenceSampler : IDisposable
{
    readonly Generator _generator;
    readonly HashSet<int> _seenTokens = [];

    public SequenceSampler(SamplingParams parameters, IEnumerable<int> promptTokens)
    {
        Parameters = parameters;
        Seed = parameters.Seed ?? Random.Shared.NextInt64(0, long.MaxValue);
        _generator = new Generator((ulong)Seed, new Device(DeviceType.CPU));
        if (parameters.RepetitionPenalty != 1.0) _seenTokens.UnionWith(promptTokens);
    }

    public SamplingParams Parameters { get; }

    public long Seed { get; }

    /// <summary>Greedy without a repetition penalty: the next token is the argmax of the raw logits.</summary>
    public bool IsPlainGreedy => Parameters.IsGreedy && Parameters.RepetitionPenalty == 1.0;

    /// <summary>Records an emitted token (for the repetition penalty).</summary>
    public void Accept(int tokenId)
    {
        if (Parameters.RepetitionPenalty != 1.0) _seenTokens.Add(tokenId);
    }

    /// <summary>How this sequence scores raw logits (temperature, repetition penalty), as sent to vocabulary parts.</summary>
    public RowScoring Scoring => new(Parameters.Temperature, Parameters.RepetitionPenalty, _seenTokens);

    /// <summary>logits: [V] on any device -> the chosen token id (the whole vocabulary as one part).</summary>
    internal int Sample(Tensor logits)
    {
        using var part = new LocalVocabPartLogits(logits.unsqueeze(0), new Sharding.VocabRange(0, 1, 0, (int)logits.size(0)));
        return Sample([part], 0);
    }

    /// <summary>What <see cref="PartitionedSampler"/> needs to sample row <paramref name="row"/> for this sequence.</summary>
    public RowSampleRequest RequestFor(int row) => new(row, Parameters, Scoring, NextUniform);

    /// <summary>
    /// Row <paramref name="row"/>'s next token from logits split into vocabulary parts (ascending ranges
    /// covering the vocabulary), without gathering them; the same token <see cref="Sample(Tensor)"/> draws
    /// from the whole row with the same seed.
    /// </summary>
    public int Sample(IReadOnlyList<IVocabPartLogits> parts, int row) => PartitionedSampler.Sample(parts, [RequestFor(row)])[0];

    /// <summary>
    /// The distribution <see cref="Sample"/> draws from, as probabilities [V] fp32 on CPU: after the repetition
    /// penalty, temperature, top-k and top-p; greedy is one-hot on the argmax. Speculative decoding verifies
    /// against exactly this, so that its output distribution is the one plain sampling has.
    /// </summary>
    public Tensor Probabilities(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var scores = ApplyRepetitionPenalty(logits);
        if (Parameters.IsGreedy)
            return zeros_like(scores).index_fill_(0, scores.argmax().unsqueeze(0), Scalars.One).MoveToOuterDisposeScope();
        return TemperedProbabilities(scores).MoveToOuterDisposeScope();
    }

    /// <summary>The same distribution without the repetition penalty (a draft's proposal distribution q).</summary>
    public Tensor ProposalProbabilities(Tensor logits)
    {
        using var scope = NewDisposeScope();
        if (Parameters.IsGreedy)
            return zeros_like(logits).index_fill_(0, logits.argmax().unsqueeze(0), Scalars.One).MoveToOuterDisposeScope();
        return TemperedProbabilities(logits).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws one token id from probabilities [V] (need not be normalized) with this sequence's random stream:
    /// inverse-CDF in id order, as every other draw here.
    /// </summary>
    public int SampleFrom(Tensor probs) => SampleFrom(probs, NextUniform());

    /// <summary>The token <paramref name="uniform"/> in [0, 1) picks from probabilities [V] (inverse-CDF in id order).</summary>
    public static int SampleFrom(Tensor probs, double uniform)
    {
        double[] weights;
        using (var values = probs.to(float64).cpu()) weights = values.data<double>().ToArray();
        int index = InverseCdf.Index(weights, uniform * weights.Sum());
        return index >= 0 ? index : throw new ArgumentException("cannot sample from a distribution with no mass", nameof(probs));
    }

    /// <summary>A uniform draw in [0, 1) from this sequence's random stream (speculative acceptance tests).</summary>
    public double NextUniform()
    {
        using var u = rand(1, generator: _generator, dtype: float64);
        return u.item<double>();
    }

    Tensor TemperedProbabilities(Tensor scores)
    {
        using (var temperature = Parameters.Temperature.ToScalar()) scores = scores.div(temperature); // held for the call (see Scalars)
        if (Parameters.TopK > 0 && Parameters.TopK < scores.size(0)) scores = KeepTopK(scores, Parameters.TopK);
        if (Parameters.TopP < 1.0) scores = KeepTopP(scores, Parameters.TopP);
        return scores.softmax(0);
    }

    Tensor ApplyRepetitionPenalty(Tensor logits) =>
        RowScoring.Penalize(logits, _seenTokens.Select(t => (long)t).ToArray(), Parameters.RepetitionPenalty);

    static Tensor KeepTopK(Tensor scores, int k)
    {
        var kth = scores.topk(k).values[k - 1];
        return scores.masked_fill(scores.lt(kth), Scalars.NegativeInfinity);
    }

    // Keep the smallest prefix of tokens (by descending probability) whose mass reaches p; the most likely
    // token is always kept.
    static Tensor KeepTopP(Tensor scores, double p)
    {
        var (sortedScores, sortedIds) = scores.sort(descending: true);
        var sortedProbs = sortedScores.softmax(0);
        var massBefore = sortedProbs.cumsum(0) - sortedProbs;
        using var mass = p.ToScalar(); // held for the call (see Scalars)
        var dropSorted = massBefore.ge(mass);
        // NOTE: a p below fp32's range (e.g. 1e-300) compares as 0, which would drop every token (a NaN
        // distribution that fails the whole batched step): the most likely token is kept explicitly.
        dropSorted[0] = tensor(false);
        var drop = zeros_like(dropSorted).scatter(0, sortedIds, dropSorted);
        return scores.masked_fill(drop, Scalars.NegativeInfinity);
    }

    public void Dispose() => _generator.Dispose();
}
