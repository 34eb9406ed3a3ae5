namespace Granary.Engine.Speculation;

/// <summary>
/// Running totals of one engine's speculation, readable from any thread (metrics export them as
/// vllm:spec_decode_num_draft_tokens_total / vllm:spec_decode_num_accepted_tokens_total).
/// </summary>
public sealed class SpeculationStats
{
    long _numDraftTokens, _numAcceptedTokens, _numEmittedTokens, _numVerifications;

    /// <summary>Tokens the draft proposed and the target verified.</summary>
    public long NumDraftTokens => Interlocked.Read(ref _numDraftTokens);

    /// <summary>Proposed tokens the target accepted.</summary>
    public long NumAcceptedTokens => Interlocked.Read(ref _numAcceptedTokens);

    /// <summary>Tokens verification produced: accepted ones plus one correction or bonus token each time.</summary>
    public long NumEmittedTokens => Interlocked.Read(ref _numEmittedTokens);

    /// <summary>Sequence-steps that speculated (one per sequence per step with k &gt; 0).</summary>
    public long NumVerifications => Interlocked.Read(ref _numVerifications);

    /// <summary>Accepted / proposed draft tokens (0 before any).</summary>
    public double AcceptanceRate => NumDraftTokens == 0 ? 0 : (double)NumAcceptedTokens / NumDraftTokens;

    /// <summary>Tokens one speculative sequence-step yields on average (accepted + 1; 1 = no gain).</summary>
    public double MeanAcceptedLength => NumVerifications == 0 ? 0 : (double)NumEmittedTokens / NumVerifications;

    internal void Record(int numDrafted, int numAccepted, int numEmitted)
    {
        Interlocked.Add(ref _numDraftTokens, numDrafted);
        Interlocked.Add(ref _numAcceptedTokens, numAccepted);
        Interlocked.Add(ref _numEmittedTokens, numEmitted);
        Interlocked.Increment(ref _numVerifications);
    }

    public SpeculationSnapshot Snapshot() => new(NumDraftTokens, NumAcceptedTokens, NumEmittedTokens, NumVerifications);
}

/// <summary>The counters of <see cref="SpeculationStats"/> at one moment (differences measure an interval).</summary>
public sealed record SpeculationSnapshot(long NumDraftTokens, long NumAcceptedTokens, long NumEmittedTokens, long NumVerifications)
{
    public double AcceptanceRate => NumDraftTokens == 0 ? 0 : (double)NumAcceptedTokens / NumDraftTokens;

    public double MeanAcceptedLength => NumVerifications == 0 ? 0 : (double)NumEmittedTokens / NumVerifications;

    public SpeculationSnapshot Since(SpeculationSnapshot earlier) => new(
        NumDraftTokens - earlier.NumDraftTokens, NumAcceptedTokens - earlier.NumAcceptedTokens,
        NumEmittedTokens - earlier.NumEmittedTokens, NumVerifications - earlier.NumVerifications);
}
