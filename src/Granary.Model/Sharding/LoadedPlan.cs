using Granary.Model.Runtime;
using Granary.Model.Tokenization;

namespace Granary.Model.Sharding;

/// <summary>A model folder brought up under a plan, in this process: the sharded model and the tokenizer.</summary>
public sealed class LoadedPlan(ShardedCausalLm model, TextTokenizer tokenizer) : IDisposable
{
    public ShardedCausalLm Model { get; } = model;

    public TextTokenizer Tokenizer { get; } = tokenizer;

    public void Dispose() => Model.Dispose();
}
