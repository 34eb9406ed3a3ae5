using Granary.Model.KvCache;

namespace Granary.Model.Runtime;

/// <summary>
/// One sequence's new tokens for a forward step. With a cache they are appended after what it holds;
/// without one they are a whole sequence from position 0. <paramref name="AllLogits"/> asks for the logits
/// of every new token (speculative verification, tests) instead of only the last one.
/// </summary>
public sealed record StepInput(IKvCache? Cache, IReadOnlyList<int> TokenIds, bool AllLogits = false)
{
    public int NumLogitRows => AllLogits ? TokenIds.Count : 1;

    /// <summary>Position of the first new token.</summary>
    public int StartPosition => Cache?.Length ?? 0;

    /// <summary>Throws when an input is empty or its cache has no room for its tokens.</summary>
    public static void CheckAll(IReadOnlyList<StepInput> inputs)
    {
        if (inputs.Count == 0) throw new ArgumentException("a step needs at least one input", nameof(inputs));
        foreach (var input in inputs)
        {
            if (input.TokenIds.Count == 0) throw new ArgumentException("a step input needs at least one token", nameof(inputs));
            if (input.Cache is { } cache && !cache.CanAppend(input.TokenIds.Count))
                throw new InvalidOperationException($"KV cache full: {cache.Length} + {input.TokenIds.Count} tokens exceed capacity {cache.Capacity}");
        }
    }
}
