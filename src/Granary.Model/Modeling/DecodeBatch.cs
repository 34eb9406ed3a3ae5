using Granary.Model.Runtime;
using Granary.Model.KvCache;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// The decode rows of a forward whose caches share one <see cref="KvCachePool"/>, laid out once per forward
/// so that every layer writes their new K/V with one <c>index_copy_</c> and gathers their keys into a padded
/// [B, kvHeads, L, headDim] with one <c>index_select</c>, instead of a dozen ops per sequence.
/// A row is one new token of a short cached segment: a decode (one token) or a speculative verification
/// (k + 1 tokens, each its own row seeing the keys up to its own position, which is exactly causal).
/// Row b sees numKeys[b] keys: all of its positions, or the last slidingWindow of them.
/// </summary>
public sealed class DecodeBatch
{
    DecodeBatch(KvCachePool pool, bool[] isBatched, Tensor rows, Tensor writeSlots, Tensor gatherRows, Tensor padding, int numRows, int numKeys)
    {
        Pool = pool;
        IsBatched = isBatched;
        Rows = rows;
        WriteSlots = writeSlots;
        GatherRows = gatherRows;
        Padding = padding;
        NumRows = numRows;
        NumKeys = numKeys;
    }

    public KvCachePool Pool { get; }

    /// <summary>Per segment of the forward: whether its token is one of the batched rows.</summary>
    public IReadOnlyList<bool> IsBatched { get; }

    /// <summary>[B] int64: the rows of the forward's T tokens that are batched, in segment order.</summary>
    public Tensor Rows { get; }

    /// <summary>[B] int64: the pool position each new token's K/V is written to.</summary>
    public Tensor WriteSlots { get; }

    /// <summary>
    /// [2 * kvHeads * B * L] int64: rows of a layer's storage viewed as [2 * kvHeads * positions, headDim] that
    /// hold each row's keys, then values, head by head; padding repeats the row's last key. (Gathering along
    /// dim 0 of that view is ~4x faster on CPU than along the position dim.)
    /// </summary>
    public Tensor GatherRows { get; }

    /// <summary>[B, 1, 1, L] bool: true where a gathered key is padding, not one the row may see.</summary>
    public Tensor Padding { get; }

    public int NumRows { get; }

    /// <summary>L: the most keys any row sees.</summary>
    public int NumKeys { get; }

    /// <summary>Segments of at most this many new tokens are batched row by row (decodes, speculative verifications).</summary>
    public const int MaxTokensPerSegment = 16;

    /// <summary>
    /// The decode rows of <paramref name="segments"/> (up to <see cref="MaxTokensPerSegment"/> new tokens, a
    /// cache in the pool of the first such segment), or null when fewer than two segments qualify.
    /// </summary>
    public static DecodeBatch? TryCreate(IReadOnlyList<BatchSegment> segments, int? slidingWindow)
    {
        KvCachePool? pool = null;
        var isBatched = new bool[segments.Count];
        var rows = new List<long>();
        var firstKeys = new List<int>(); // pool position of each row's first visible key
        var numKeys = new List<int>();
        long offset = 0;
        int numSegments = 0;
        for (int s = 0; s < segments.Count; s++)
        {
            var segment = segments[s];
            if (segment is { NumTokens: <= MaxTokensPerSegment, Cache: { } cache } && (pool ??= cache.Pool) == cache.Pool)
            {
                isBatched[s] = true;
                numSegments++;
                for (int j = 0; j < segment.NumTokens; j++)
                {
                    rows.Add(offset + j);
                    int length = cache.Length + j + 1; // up to and including this row's token
                    int visible = slidingWindow is { } window ? Math.Min(length, window) : length;
                    firstKeys.Add(cache.PoolStart + length - visible);
                    numKeys.Add(visible);
                }
            }
            offset += segment.NumTokens;
        }
        // NOTE: one sequence alone attends faster on its own: the gather copies its keys, a view does not.
        if (numSegments < 2) return null;

        int numRows = rows.Count, maxKeys = numKeys.Max();
        var writeSlots = new long[numRows];
        var gatherSlots = new long[numRows * maxKeys];
        var padding = new bool[numRows * maxKeys];
        for (int b = 0; b < numRows; b++)
        {
            writeSlots[b] = firstKeys[b] + numKeys[b] - 1;
            for (int j = 0; j < maxKeys; j++)
            {
                gatherSlots[b * maxKeys + j] = firstKeys[b] + Math.Min(j, numKeys[b] - 1);
                padding[b * maxKeys + j] = j >= numKeys[b];
            }
        }
        var device = pool!.Device;
        using Scalar end = 2L * pool.NumKvHeads * pool.NumPositions, step = pool.NumPositions; // held for the call (see Scalars)
        var headStarts = arange(Scalars.Zero, end, step, int64, device); // [2*Hkv]
        var gatherRows = headStarts.unsqueeze(1).add(tensor(gatherSlots, int64, device).unsqueeze(0), Scalars.One).flatten();  // [2*Hkv*B*L]
        return new DecodeBatch(pool, isBatched,
            tensor(rows.ToArray(), int64, device),
            tensor(writeSlots, int64, device),
            gatherRows,
            tensor(padding, @bool, device).view(numRows, 1, 1, maxKeys),
            numRows, maxKeys);
    }
}
