using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Model.Loading;
using Granary.TestKit;

namespace Granary.Engine.Tests.Generation;

/// <summary>One synthesized small model per test class, loaded once.</summary>
public sealed class SmallModelFixture : IDisposable
{
    readonly SynthesizedModelFolder _folder = new(SynthesizedModelFolder.SmallOptions);

    public SmallModelFixture() => Loaded = ModelLoader.Load(_folder.Path, new ModelLoadOptions());

    public LoadedModel Loaded { get; }

    public string Path => _folder.Path;

    /// <summary>A greedy, EOS-ignoring request for <paramref name="prompt"/> (with BOS) that generates <paramref name="maxTokens"/> tokens.</summary>
    public GenerationRequest GreedyRequest(string prompt, int maxTokens) =>
        new(Loaded.Tokenizer.Encode(prompt, addBos: true), new SamplingParams { Temperature = 0, IgnoreEos = true, MaxTokens = maxTokens });

    /// <summary>The tokens <paramref name="request"/> gets alone. Run it before a serving loop starts stepping the same model.</summary>
    public IReadOnlyList<int> SoloTokens(GenerationRequest request) =>
        new BatchGenerator(Loaded.Model, Loaded.Tokenizer).Generate([request]).Results[0].TokenIds;

    public void Dispose()
    {
        Loaded.Dispose();
        _folder.Dispose();
    }
}
