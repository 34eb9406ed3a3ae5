namespace Granary.Grains.Drafting;

/// <summary>
/// A deployment's draft model on one device slot (its own, or a target shard's): the draft's weights and one
/// KV cache per speculating sequence. Keyed by <see cref="DraftKey"/>, which pins the silo. The router calls
/// it once per speculative step for the whole batch.
/// </summary>
public interface IDraftGrain : IGrainWithStringKey
{
    /// <summary>Loads the draft if it has not already; reports what it holds.</summary>
    Task<DraftReport> Load(DraftAssignment assignment);

    /// <summary>Runs the draft for one step's speculating sequences (after applying releases and rollbacks).</summary>
    Task<DraftStepResult> Propose(DraftStepRequest request);

    Task<DraftReport> Describe();

    /// <summary>Frees the draft (weights and caches): its deployment has moved to a new placement.</summary>
    Task Unload();
}
