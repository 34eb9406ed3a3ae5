using Granary.Abstractions;

namespace Granary.Model.Sharding;

/// <summary>
/// Part <see cref="Part"/> of <see cref="NumParts"/> of the vocabulary: token ids [<see cref="Start"/>,
/// <see cref="Start"/> + <see cref="Count"/>). A shard holding it keeps those rows of the embedding and of
/// the LM head (vocabulary parallelism).
/// </summary>
public sealed record VocabRange(int Part, int NumParts, int Start, int Count)
{
    public int End => Start + Count;

    public bool Contains(int tokenId) => tokenId >= Start && tokenId < End;

    public override string ToString() => $"vocab part {Part}/{NumParts} (ids {Start}-{End - 1})";

    /// <summary>
    /// <paramref name="numParts"/> contiguous ranges, as equal as the size allows (the first ones one id
    /// longer when it does not divide), so each shard's share of the embedding and LM head is the same.
    /// </summary>
    public static IReadOnlyList<VocabRange> Split(int vocabSize, int numParts)
    {
        if (numParts < 1 || numParts > vocabSize)
            throw new GranaryUserError($"vp={numParts} must be between 1 and the vocabulary size {vocabSize}");
        var ranges = new VocabRange[numParts];
        int start = 0;
        for (int p = 0; p < numParts; p++)
        {
            int count = vocabSize / numParts + (p < vocabSize % numParts ? 1 : 0);
            ranges[p] = new VocabRange(p, numParts, start, count);
            start += count;
        }
        return ranges;
    }
}
