using Granary.Abstractions;

namespace Granary.Engine.Generation;

/// <summary>What one request produced. <see cref="TokenIds"/> includes a final end-of-sequence token; the text does not.</summary>
public sealed record GenerationResult(
    string Text,
    IReadOnlyList<int> TokenIds,
    int PromptTokens,
    FinishReason FinishReason,
    long Seed);

/// <summary>Wall-clock phases of one batch generation, in milliseconds.</summary>
public sealed record GenerationTimings(double PrefillMs, double DecodeMs, int NumDecodeTokens)
{
    public double DecodeTokensPerSecond => DecodeMs > 0 ? NumDecodeTokens / (DecodeMs / 1000.0) : 0;
}
