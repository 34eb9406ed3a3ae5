using Granary.Model.Synthesis;

namespace Granary.TestKit;

/// <summary>A random-weight model written to a temp folder in HF layout by `model synth`'s own code.</summary>
public sealed class SynthesizedModelFolder : IDisposable
{
    readonly TempDirectory _directory = new("granary-model");

    public SynthesizedModelFolder(SynthesisOptions options)
    {
        Options = options;
        ModelSynthesizer.Synthesize(Path, options);
    }

    /// <summary>A small Llama whose logits are peaked enough for stable greedy tokens.</summary>
    public static SynthesisOptions SmallOptions => new()
    {
        NumLayers = 2,
        HiddenSize = 64,
        NumHeads = 4,
        NumKvHeads = 2,
        IntermediateSize = 128,
        VocabSize = 512,
        MaxPositionEmbeddings = 128,
        Seed = 42,
        InitStd = 0.15,
    };

    public SynthesisOptions Options { get; }

    public string Path => _directory.Path;

    public void Dispose() => _directory.Dispose();
}
