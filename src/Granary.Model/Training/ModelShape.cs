using Granary.Abstractions;
using Granary.Model.Configuration;

namespace Granary.Model.Training;

/// <summary>
/// The size of a Llama decoder to train, written "LAYERSxHIDDEN/HEADS/KV_HEADS[/INTERMEDIATE]", e.g. "6x384/6/2".
/// Embeddings are tied: at this size the embedding table is a large share of the weights.
/// </summary>
public sealed record ModelShape(int Layers, int Hidden, int Heads, int KvHeads, int Intermediate)
{
    public static ModelShape Parse(string spec, string flag)
    {
        var problem = $"{flag}: \"{spec}\" is not LAYERSxHIDDEN/HEADS/KV_HEADS[/INTERMEDIATE], e.g. 6x384/6/2";
        var parts = spec.Split('/');
        var layersHidden = parts[0].Split('x');
        if (parts.Length is < 3 or > 4 || layersHidden.Length != 2) throw new GranaryUserError(problem);
        int[] numbers;
        try
        {
            numbers = layersHidden.Concat(parts[1..]).Select(int.Parse).ToArray();
        }
        catch (FormatException)
        {
            throw new GranaryUserError(problem);
        }
        int hidden = numbers[1];
        int intermediate = numbers.Length == 5 ? numbers[4] : DefaultIntermediate(hidden);
        var shape = new ModelShape(numbers[0], hidden, numbers[2], numbers[3], intermediate);
        if (shape.Validate() is { } invalid) throw new GranaryUserError($"{flag}: {invalid}");
        return shape;
    }

    /// <summary>Llama's 8/3 of the hidden size (SwiGLU at the FLOPs of a 4x MLP), rounded up to 32.</summary>
    public static int DefaultIntermediate(int hidden) => (hidden * 8 / 3 + 31) / 32 * 32;

    public string? Validate()
    {
        if (Layers < 1) return "layers must be >= 1";
        if (Heads < 1 || Hidden % Heads != 0) return $"heads ({Heads}) must divide hidden ({Hidden})";
        if (Hidden / Heads % 2 != 0) return $"hidden / heads ({Hidden / Heads}) must be even for rotary embeddings";
        if (KvHeads < 1 || Heads % KvHeads != 0) return $"kv heads ({KvHeads}) must divide heads ({Heads})";
        if (Intermediate < 1) return "intermediate must be >= 1";
        return null;
    }

    public ModelConfig ToConfig(int vocabSize, int context, int bosTokenId, int eosTokenId) => new()
    {
        Architecture = ModelArchitecture.Llama,
        VocabSize = vocabSize,
        HiddenSize = Hidden,
        IntermediateSize = Intermediate,
        NumLayers = Layers,
        NumHeads = Heads,
        NumKvHeads = KvHeads,
        HeadDim = Hidden / Heads,
        MaxPositionEmbeddings = context,
        TieWordEmbeddings = true,
        BosTokenId = bosTokenId,
        EosTokenIds = [eosTokenId],
        TorchDtype = "float32",
    };

    public override string ToString() => $"{Layers}x{Hidden}/{Heads}/{KvHeads}/{Intermediate}";
}
