using System.Text;

namespace Granary.Model.Tokenization;

/// <summary>
/// Trains a byte-level BPE tokenizer (GPT-2 pre-tokenization, 256 byte tokens, no unknown token) whose
/// vocabulary, special tokens included, is exactly the requested size. Deterministic for a given corpus.
/// </summary>
public static class ByteLevelBpeTrainer
{
    private const int ByteTokenCount = 256;

    public static ByteLevelBpeModel Train(IEnumerable<string> texts, int vocabSize, IReadOnlyList<string> specialTokens)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(specialTokens);
        ValidateSpecialTokens(specialTokens);
        int minimum = ByteTokenCount + specialTokens.Count + 1;
        if (vocabSize < minimum)
            throw new ArgumentException($"vocabSize {vocabSize} is below {minimum} (256 bytes + {specialTokens.Count} special tokens + 1 merge)", nameof(vocabSize));

        var tokens = new List<string>(vocabSize);
        for (int b = 0; b < ByteTokenCount; b++) tokens.Add(ByteLevelAlphabet.CharFor((byte)b).ToString());
        var idsByToken = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++) idsByToken[tokens[id]] = id;
        var merges = new List<BpeMerge>();
        int baseSize = vocabSize - specialTokens.Count;

        var index = new BpePairIndex(ToByteWords(WordFrequencyCounter.Count(texts)));
        while (tokens.Count < baseSize && index.TakeBestPair() is var (left, right))
        {
            int merged = AddMerge(tokens, idsByToken, merges, left, right);
            index.Merge(left, right, merged);
        }
        AddFillerMerges(tokens, idsByToken, merges, baseSize);
        return new ByteLevelBpeModel(tokens, merges, specialTokens.ToArray());
    }

    private static void ValidateSpecialTokens(IReadOnlyList<string> specialTokens)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string token in specialTokens)
        {
            if (string.IsNullOrEmpty(token)) throw new ArgumentException("special tokens must be non-empty", nameof(specialTokens));
            if (!seen.Add(token)) throw new ArgumentException($"special token \"{token}\" is listed twice", nameof(specialTokens));
        }
    }

    private static List<(int[] Symbols, long Frequency)> ToByteWords(List<KeyValuePair<string, long>> counts)
    {
        var words = new List<(int[] Symbols, long Frequency)>(counts.Count);
        foreach (var (word, frequency) in counts)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(word);
            if (bytes.Length < 2) continue; // a single byte has no pair to merge
            words.Add((Array.ConvertAll(bytes, b => (int)b), frequency));
        }
        return words;
    }

    /// <summary>
    /// Records a merge and returns the id of its result. Two different merges can spell the same token
    /// ("ab"+"c", "a"+"bc"); the second then reuses the existing id rather than growing the vocabulary.
    /// </summary>
    private static int AddMerge(List<string> tokens, Dictionary<string, int> idsByToken, List<BpeMerge> merges, int left, int right)
    {
        string merged = tokens[left] + tokens[right];
        merges.Add(new BpeMerge(tokens[left], tokens[right]));
        if (idsByToken.TryGetValue(merged, out int existing)) return existing;
        tokens.Add(merged);
        idsByToken[merged] = tokens.Count - 1;
        return tokens.Count - 1;
    }

    /// <summary>
    /// When the corpus has no pairs left (small corpus, large vocabulary), fill the vocabulary with
    /// deterministic merges "existing token + one byte" whose result is new; they are valid but never fire
    /// on the training text.
    /// </summary>
    private static void AddFillerMerges(List<string> tokens, Dictionary<string, int> idsByToken, List<BpeMerge> merges, int baseSize)
    {
        for (int left = 0; tokens.Count < baseSize; left++)
        {
            for (int right = 0; right < ByteTokenCount && tokens.Count < baseSize; right++)
            {
                if (!idsByToken.ContainsKey(tokens[left] + tokens[right]))
                    AddMerge(tokens, idsByToken, merges, left, right);
            }
        }
    }
}
