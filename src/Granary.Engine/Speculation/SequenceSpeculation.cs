using Granary.Model.KvCache;

namespace Granary.Engine.Speculation;

/// <summary>
/// One sequence's speculation state: its draft KV cache (which may lag the target's: the next proposal
/// first feeds the draft whatever context it has not seen), the KV budget that cache reserves, and an
/// estimate of how often this sequence's draft tokens are accepted.
/// </summary>
public sealed class SequenceSpeculation(IKvCache draftCache, long numReservedKvTokens) : IDisposable
{
    /// <summary>Prior per-token acceptance before a sequence has any history (the default pair measures ~0.7).</summary>
    public const double PriorAcceptance = 0.7;

    const double Smoothing = 0.15;

    public IKvCache DraftCache { get; } = draftCache;

    /// <summary>What the draft cache costs against the scheduler's KV budget, in target KV positions.</summary>
    public long NumReservedKvTokens { get; } = numReservedKvTokens;

    /// <summary>Exponentially weighted per-token acceptance of this sequence's recent proposals.</summary>
    public double Acceptance { get; private set; } = PriorAcceptance;

    /// <summary>Folds in one verification: <paramref name="numAccepted"/> of <paramref name="numDrafted"/> accepted in a row.</summary>
    public void Observe(int numDrafted, int numAccepted)
    {
        for (int i = 0; i < numAccepted; i++) Acceptance += Smoothing * (1 - Acceptance);
        if (numAccepted < numDrafted) Acceptance -= Smoothing * Acceptance; // the first rejection ends the run
    }

    public void Dispose() => DraftCache.Dispose();
}
