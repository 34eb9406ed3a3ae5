using System.Diagnostics;
using Granary.Abstractions;

namespace Granary.Engine.Generation;

/// <summary>A tokenized prompt and how to continue it.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptTokenIds, SamplingParams Sampling)
{
    /// <summary>Null: no log-probabilities. N: the sampled token's, plus the N most likely at each position.</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>The trace of the caller that submitted it (if traced): the steps that serve it link to it.</summary>
    public ActivityContext? TraceParent { get; init; }
}
