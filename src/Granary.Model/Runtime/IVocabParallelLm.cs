using Granary.Model.Sampling;

namespace Granary.Model.Runtime;

/// <summary>
/// A decoder whose LM head is split into vocabulary parts: a step can leave each part's logits where it was
/// computed, for gather-free sampling (<see cref="Sampling.SequenceSampler.Sample(IReadOnlyList{IVocabPartLogits}, int)"/>).
/// <see cref="ICausalLm.Step"/> still returns the whole logits, gathered, for the callers that need them.
/// </summary>
public interface IVocabParallelLm : ICausalLm
{
    /// <summary>Whether this instance's plan splits the vocabulary (else <see cref="StepParts"/> throws).</summary>
    bool SplitsVocabulary { get; }

    /// <summary>One step, as <see cref="ICausalLm.Step"/>, with the logits left in their parts.</summary>
    VocabParallelLogits StepParts(IReadOnlyList<StepInput> inputs);
}
