namespace Granary.Engine.Speculation;

/// <summary>How a deployment with a draft model speculates.</summary>
public sealed record SpeculationOptions
{
    /// <summary>
    /// k: most tokens the draft proposes per sequence and step. The target verifies k + 1 positions per
    /// sequence, so a step emits 1 to k + 1 tokens. 0 turns speculation off.
    /// </summary>
    public int NumSpeculativeTokens { get; init; } = 4;

    /// <summary>
    /// Whether k adapts: per sequence to its recent acceptance, and per batch size to the measured
    /// throughput (so that speculation never runs where plain decoding is faster). Off, every sequence
    /// speculates exactly <see cref="NumSpeculativeTokens"/> (memory and token budgets still apply) —
    /// tests use that to make sampled runs reproducible.
    /// </summary>
    public bool IsAdaptive { get; init; } = true;

    public string? Validate() =>
        NumSpeculativeTokens is < 0 or > 32 ? $"the number of speculative tokens must be in 0..32 (got {NumSpeculativeTokens})" : null;
}
