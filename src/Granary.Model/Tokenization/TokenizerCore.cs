namespace Granary.Model.Tokenization;

/// <summary>
/// What a tokenizer file yields before the config files are consulted: the encoder, the decode table,
/// the token-to-id map for resolving names like "&lt;s&gt;", and the file's own BOS/EOS defaults.
/// </summary>
internal sealed class TokenizerCore
{
    public required Func<string, IReadOnlyList<int>> Encode { get; init; }

    public required TokenByteTable Table { get; init; }

    /// <summary>Every token, including added tokens (which win over a same-named vocab entry).</summary>
    public required IReadOnlyDictionary<string, int> IdsByToken { get; init; }

    /// <summary>BOS named by the file itself (SentencePiece bos_id, or tokenizer.json's post-processor).</summary>
    public int? FileBosId { get; init; }

    public int? FileEosId { get; init; }

    /// <summary>Whether the file's own pipeline prepends BOS; null when it does not say.</summary>
    public bool? FileAddsBos { get; init; }
}
