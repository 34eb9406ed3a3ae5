using Granary.Abstractions;

namespace Granary.Engine.Generation;

/// <summary>A tokenized prompt and how to continue it.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptTokenIds, SamplingParams Sampling);
