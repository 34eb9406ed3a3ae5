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

    public void Dispose()
    {
        Loaded.Dispose();
        _folder.Dispose();
    }
}
