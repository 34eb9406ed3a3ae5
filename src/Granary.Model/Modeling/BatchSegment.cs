using Granary.Model.KvCache;

namespace Granary.Model.Modeling;

/// <summary>
/// One sequence's share of a ragged forward batch: <paramref name="NumTokens"/> consecutive new tokens.
/// With a cache they sit at positions [Cache.Length, Cache.Length + NumTokens) and attend to everything
/// cached before them (decode: 1 token; prefill chunk or speculative verify: several). Without a cache the
/// segment is a whole sequence starting at position 0 (reference forward, training).
/// </summary>
public sealed record BatchSegment(SequenceKvCache? Cache, int NumTokens)
{
    public int StartPosition => Cache?.Length ?? 0;
}
