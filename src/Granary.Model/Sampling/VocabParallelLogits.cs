using static TorchSharp.torch;

namespace Granary.Model.Sampling;

/// <summary>
/// The logits of one step split by vocabulary: <see cref="Parts"/> in ascending id ranges that together
/// cover the vocabulary, each holding its rows' logits where they were computed. Owns the parts.
/// </summary>
public sealed class VocabParallelLogits : IDisposable
{
    public VocabParallelLogits(IReadOnlyList<IVocabPartLogits> parts)
    {
        for (int p = 1; p < parts.Count; p++)
            if (parts[p].Range.Start != parts[p - 1].Range.End)
                throw new ArgumentException($"vocabulary parts are not contiguous: {parts[p - 1].Range} then {parts[p].Range}", nameof(parts));
        Parts = parts;
    }

    public IReadOnlyList<IVocabPartLogits> Parts { get; }

    /// <summary>The whole logits [R, V] fp32 on the CPU: moves every part (tests, log-probabilities, speculation).</summary>
    public Tensor Gather()
    {
        using var scope = NewDisposeScope();
        return cat(Parts.Select(p => p.Read()).ToList(), 1).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var part in Parts) part.Dispose();
    }
}
