namespace Granary.Model.Training;

/// <summary>
/// The held-out positions every model is scored on: consecutive non-overlapping windows from the start of
/// the held-out stream, up to a token cap, so that all models (and the unigram baseline) see the same targets.
/// </summary>
public sealed class HeldOutWindows
{
    public HeldOutWindows(TokenStream stream, int context, int maxTokens)
    {
        Stream = stream;
        Context = context;
        int count = Math.Min(Math.Max(1, maxTokens / context), (stream.Count - 1) / context);
        if (count < 1) throw new ArgumentException($"{stream.Count} held-out tokens are fewer than one window of {context + 1}");
        Starts = Enumerable.Range(0, count).Select(w => w * context).ToArray();
        NumBytes = Targets().Sum(position => (long)stream.TokenBytes[position]);
    }

    public TokenStream Stream { get; }

    public int Context { get; }

    public IReadOnlyList<int> Starts { get; }

    public int NumTargets => Starts.Count * Context;

    /// <summary>UTF-8 bytes of the text the targets spell (the denominator of bits per byte).</summary>
    public long NumBytes { get; }

    /// <summary>Stream positions of the predicted tokens, in the order models report them.</summary>
    public IEnumerable<int> Targets() => Starts.SelectMany(start => Enumerable.Range(start + 1, Context));

    public HeldOutScore Score(double totalNats) => new(totalNats / NumTargets, totalNats / Math.Log(2) / NumBytes);
}

/// <summary>Held-out cross-entropy, per token (nats) and per byte of text (bits).</summary>
public sealed record HeldOutScore(double NatsPerToken, double BitsPerByte);
