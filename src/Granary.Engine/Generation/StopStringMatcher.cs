namespace Granary.Engine.Generation;

/// <summary>
/// Watches a stream of decoded text for stop strings. Text that might still turn out to be the start of a
/// stop string is held back, so a streaming client never sees half of one; the stop string itself is never
/// emitted.
/// </summary>
public sealed class StopStringMatcher(IReadOnlyList<string> stopStrings)
{
    readonly IReadOnlyList<string> _stopStrings = stopStrings.Where(s => s.Length > 0).ToList();
    string _pending = "";

    public bool IsStopped { get; private set; }

    /// <summary>Adds newly decoded text; returns the part that is now safe to emit.</summary>
    public string Append(string piece)
    {
        if (IsStopped) return "";
        string text = _pending + piece;
        int stopAt = FirstStopIndex(text);
        if (stopAt >= 0)
        {
            IsStopped = true;
            _pending = "";
            return text[..stopAt];
        }
        int keep = LongestSuffixThatStartsAStop(text);
        _pending = text[^keep..];
        return text[..^keep];
    }

    /// <summary>At the end of generation nothing more can complete a stop string: release what was held.</summary>
    public string Flush()
    {
        string rest = _pending;
        _pending = "";
        return rest;
    }

    int FirstStopIndex(string text)
    {
        int best = -1;
        foreach (var stop in _stopStrings)
        {
            int index = text.IndexOf(stop, StringComparison.Ordinal);
            if (index >= 0 && (best < 0 || index < best)) best = index;
        }
        return best;
    }

    int LongestSuffixThatStartsAStop(string text)
    {
        int longest = 0;
        foreach (var stop in _stopStrings)
            for (int length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
                if (string.CompareOrdinal(text, text.Length - length, stop, 0, length) == 0)
                {
                    longest = length;
                    break;
                }
        return longest;
    }
}
