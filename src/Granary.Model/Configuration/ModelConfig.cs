namespace Granary.Model.Configuration;

/// <summary>
/// The shape of a Llama-family decoder, as read from a Hugging Face <c>config.json</c>
/// (see <see cref="ModelConfigJson"/>). Immutable; every size is validated by <see cref="ModelConfigJson.Parse"/>.
/// </summary>
public sealed record ModelConfig
{
    public required ModelArchitecture Architecture { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKvHeads { get; init; }
    public required int HeadDim { get; init; }
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    public RopeScaling? RopeScaling { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public bool TieWordEmbeddings { get; init; }

    /// <summary>Bias on q/k/v projections (Qwen2 always; Llama when <c>attention_bias</c>).</summary>
    public bool QkvBias { get; init; }

    /// <summary>Bias on the attention output projection (Llama <c>attention_bias</c> only).</summary>
    public bool OutputBias { get; init; }

    public bool MlpBias { get; init; }

    /// <summary>Mistral's sliding attention window in tokens, or null for full attention.</summary>
    public int? SlidingWindow { get; init; }

    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>The checkpoint's own dtype name (<c>torch_dtype</c>), e.g. "bfloat16".</summary>
    public string? TorchDtype { get; init; }

    public int NumQueriesPerKv => NumHeads / NumKvHeads;

    public long NumParameters()
    {
        long attention = (long)HiddenSize * NumHeads * HeadDim * 2 + (long)HiddenSize * NumKvHeads * HeadDim * 2;
        long mlp = 3L * HiddenSize * IntermediateSize;
        long perLayer = attention + mlp + 2L * HiddenSize;
        long embeddings = (long)VocabSize * HiddenSize * (TieWordEmbeddings ? 1 : 2);
        return NumLayers * perLayer + embeddings + HiddenSize;
    }
}
