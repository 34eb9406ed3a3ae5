using System.Text.RegularExpressions;

namespace Granary.Model.Tokenization;

/// <summary>
/// Splits a corpus into pre-tokens with the GPT-2 regex and counts each distinct one: BPE training
/// works on this table instead of on the text, so each merge costs time per distinct word, not per byte.
/// </summary>
internal static class WordFrequencyCounter
{
    private static readonly Regex Split = new(PreTokenizerPatterns.Gpt2, RegexOptions.Compiled);

    /// <summary>Distinct pre-tokens and their counts, sorted ordinally so training is deterministic.</summary>
    public static List<KeyValuePair<string, long>> Count(IEnumerable<string> texts)
    {
        var total = new Dictionary<string, long>(StringComparer.Ordinal);
        var gate = new object();
        // Counts are sums, so the split into per-thread tables cannot change the result.
        Parallel.ForEach(texts,
            () => new Dictionary<string, long>(StringComparer.Ordinal),
            (text, _, local) => { CountInto(text, local); return local; },
            local =>
            {
                lock (gate)
                {
                    foreach (var (word, count) in local)
                        total[word] = total.GetValueOrDefault(word) + count;
                }
            });
        var sorted = total.ToList();
        sorted.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return sorted;
    }

    private static void CountInto(string? text, Dictionary<string, long> counts)
    {
        if (string.IsNullOrEmpty(text)) return;
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var match in Split.EnumerateMatches(text))
        {
            var word = text.AsSpan(match.Index, match.Length);
            lookup[word] = lookup.TryGetValue(word, out long count) ? count + 1 : 1;
        }
    }
}
