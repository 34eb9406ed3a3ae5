using Granary.Engine.Generation;
using Granary.Model.KvCache;

namespace Granary.Engine.Speculation;

/// <summary>
/// What the scheduler needs to plan speculation (SpecMemo: speculation is planned under the memory
/// budget): how to give a sequence a draft cache, what that cache costs in the scheduler's unit (target KV
/// positions), and the cap on k. Tensors stay on the engine's side: this hands out caches, nothing else.
/// </summary>
public sealed class SpeculationPlanner(Func<int, IKvCache> allocateDraftCache, double draftKvRatio, SpeculationController controller)
{
    public SpeculationController Controller { get; } = controller;

    /// <summary>Bytes of one draft KV position / bytes of one target KV position.</summary>
    public double DraftKvRatio { get; } = draftKvRatio;

    /// <summary>The batch size and cap of the last planned step (the engine reports its throughput against them).</summary>
    public (int BatchSize, int Cap) LastPlan { get; internal set; }

    /// <summary>Target KV positions a draft cache for <paramref name="sequence"/> is charged (its whole capacity, as for the target).</summary>
    public long DraftReservation(Sequence sequence) => (long)Math.Ceiling(sequence.MaxTotalTokens * DraftKvRatio);

    internal SequenceSpeculation StartSpeculation(Sequence sequence) =>
        new(allocateDraftCache(sequence.MaxTotalTokens), DraftReservation(sequence));

    /// <summary>
    /// k for one sequence this step: the batch cap, lowered by the sequence's own acceptance (when adaptive),
    /// by the tokens it may still produce, and by what is left of the step's token budget.
    /// </summary>
    public int NumTokensFor(Sequence sequence, int cap, int tokenBudget)
    {
        int wanted = WantedTokens(sequence, cap);
        // The target's cache holds prompt + output - 1 positions and takes k + 1 more: at most MaxTotalTokens.
        return Math.Max(0, Math.Min(Math.Min(wanted, sequence.NumRemainingTokens - 1), tokenBudget));
    }

    /// <summary>k the sequence's acceptance asks for under <paramref name="cap"/> (the cap itself when not adaptive).</summary>
    public int WantedTokens(Sequence sequence, int cap) => Controller.IsAdaptive
        ? AdaptiveK.ForAcceptance(sequence.Speculation?.Acceptance ?? SequenceSpeculation.PriorAcceptance, cap)
        : cap;
}
