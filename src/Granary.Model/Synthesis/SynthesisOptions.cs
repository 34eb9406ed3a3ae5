using Granary.Model.Configuration;
using static TorchSharp.torch;

namespace Granary.Model.Synthesis;

/// <summary>The shape of a random-weight model to write. Defaults make a ~1M-parameter Llama.</summary>
public sealed record SynthesisOptions
{
    public ModelArchitecture Architecture { get; init; } = ModelArchitecture.Llama;
    public int NumLayers { get; init; } = 2;
    public int HiddenSize { get; init; } = 128;
    public int NumHeads { get; init; } = 4;
    public int NumKvHeads { get; init; } = 2;
    public int IntermediateSize { get; init; } = 256;
    public int VocabSize { get; init; } = 512;
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public bool TieWordEmbeddings { get; init; }
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public long Seed { get; init; }

    /// <summary>Standard deviation of the random weights (HF's initializer_range).</summary>
    public double InitStd { get; init; } = 0.02;

    /// <summary>When set, weights are split into shards of at most this many bytes with an index file.</summary>
    public long? MaxShardBytes { get; init; }

    /// <summary>Returns the first problem, naming the option, or null.</summary>
    public string? Validate()
    {
        if (NumLayers < 1) return "--layers must be >= 1";
        if (HiddenSize < 2) return "--hidden must be >= 2";
        if (NumHeads < 1 || HiddenSize % NumHeads != 0) return $"--heads ({NumHeads}) must divide --hidden ({HiddenSize})";
        if ((HiddenSize / NumHeads) % 2 != 0) return $"--hidden / --heads ({HiddenSize / NumHeads}) must be even for rotary embeddings";
        if (NumKvHeads < 1 || NumHeads % NumKvHeads != 0) return $"--kv-heads ({NumKvHeads}) must divide --heads ({NumHeads})";
        if (IntermediateSize < 1) return "--intermediate must be >= 1";
        if (VocabSize < 300) return $"--vocab must be >= 300 (256 byte tokens, special tokens and some merges; got {VocabSize})";
        if (MaxPositionEmbeddings < 16) return "--max-position must be >= 16";
        if (MaxShardBytes is < 1024) return $"--shard-size-mb must be at least 1 KiB (got {MaxShardBytes} bytes)";
        return null;
    }
}
