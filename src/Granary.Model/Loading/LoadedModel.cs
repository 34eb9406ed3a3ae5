using Granary.Model.Configuration;
using Granary.Model.Runtime;
using Granary.Model.Tokenization;

namespace Granary.Model.Loading;

/// <summary>A model folder brought up: the network on its device, its tokenizer, and where it came from.</summary>
public sealed class LoadedModel(string directory, CausalLm model, TextTokenizer tokenizer) : IDisposable
{
    public string Directory { get; } = directory;

    public CausalLm Model { get; } = model;

    public TextTokenizer Tokenizer { get; } = tokenizer;

    public ModelConfig Config => Model.Config;

    public void Dispose() => Model.Dispose();
}
