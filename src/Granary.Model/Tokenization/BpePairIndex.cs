namespace Granary.Model.Tokenization;

/// <summary>
/// The word table of BPE training with pair counts kept up to date incrementally: a merge only revisits
/// the words that contain the merged pair, and a max-heap with lazy invalidation finds the next best pair.
/// Ties between equally frequent pairs go to the smaller (left id, right id), which makes training
/// deterministic.
/// </summary>
internal sealed class BpePairIndex
{
    private readonly int[][] _symbols;
    private readonly int[] _lengths;
    private readonly long[] _frequencies;
    private readonly Dictionary<long, long> _pairCounts = new();
    private readonly Dictionary<long, HashSet<int>> _wordsWithPair = new();
    private readonly PriorityQueue<long, (long Count, long Pair)> _queue = new(Comparer<(long Count, long Pair)>.Create(
        (a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : a.Pair.CompareTo(b.Pair)));

    /// <param name="words">Distinct words as token-id sequences, with their corpus frequencies.</param>
    public BpePairIndex(IReadOnlyList<(int[] Symbols, long Frequency)> words)
    {
        _symbols = new int[words.Count][];
        _lengths = new int[words.Count];
        _frequencies = new long[words.Count];
        for (int w = 0; w < words.Count; w++)
        {
            _symbols[w] = words[w].Symbols;
            _lengths[w] = words[w].Symbols.Length;
            _frequencies[w] = words[w].Frequency;
            AddPairs(w, newToken: -1, touched: null);
        }
        foreach (var (pair, count) in _pairCounts) _queue.Enqueue(pair, (count, pair));
    }

    public static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>The most frequent pair still present, or null when no adjacent pairs remain.</summary>
    public (int Left, int Right)? TakeBestPair()
    {
        while (_queue.TryDequeue(out long pair, out var queued))
        {
            long current = _pairCounts.GetValueOrDefault(pair);
            if (current == queued.Count && current > 0) return ((int)(pair >> 32), (int)(uint)pair);
            // Stale entry: the pair's count changed since it was queued; requeue it at its true count.
            if (current > 0) _queue.Enqueue(pair, (current, pair));
        }
        return null;
    }

    /// <summary>Replaces every occurrence of (left, right) by newToken, left to right, in every word.</summary>
    public void Merge(int left, int right, int newToken)
    {
        long mergedPair = PairKey(left, right);
        if (!_wordsWithPair.Remove(mergedPair, out var words)) return;
        var touched = new HashSet<long>();
        foreach (int w in words)
        {
            if (!Contains(w, left, right)) continue;
            RemovePairs(w);
            Rewrite(w, left, right, newToken);
            AddPairs(w, newToken, touched);
        }
        foreach (long pair in touched)
        {
            long count = _pairCounts.GetValueOrDefault(pair);
            if (count > 0) _queue.Enqueue(pair, (count, pair));
        }
    }

    private bool Contains(int w, int left, int right)
    {
        var symbols = _symbols[w];
        for (int i = 0; i + 1 < _lengths[w]; i++)
            if (symbols[i] == left && symbols[i + 1] == right) return true;
        return false;
    }

    private void Rewrite(int w, int left, int right, int newToken)
    {
        var symbols = _symbols[w];
        int read = 0, write = 0, length = _lengths[w];
        while (read < length)
        {
            bool merge = read + 1 < length && symbols[read] == left && symbols[read + 1] == right;
            symbols[write++] = merge ? newToken : symbols[read];
            read += merge ? 2 : 1;
        }
        _lengths[w] = write;
    }

    private void RemovePairs(int w)
    {
        var symbols = _symbols[w];
        for (int i = 0; i + 1 < _lengths[w]; i++)
            _pairCounts[PairKey(symbols[i], symbols[i + 1])] -= _frequencies[w];
    }

    /// <summary>Counts the word's pairs; pairs with newToken are new, so they are indexed and reported.</summary>
    private void AddPairs(int w, int newToken, HashSet<long>? touched)
    {
        var symbols = _symbols[w];
        for (int i = 0; i + 1 < _lengths[w]; i++)
        {
            long pair = PairKey(symbols[i], symbols[i + 1]);
            _pairCounts[pair] = _pairCounts.GetValueOrDefault(pair) + _frequencies[w];
            if (touched is not null && symbols[i] != newToken && symbols[i + 1] != newToken) continue;
            if (!_wordsWithPair.TryGetValue(pair, out var set)) _wordsWithPair[pair] = set = new HashSet<int>();
            set.Add(w);
            touched?.Add(pair);
        }
    }
}
