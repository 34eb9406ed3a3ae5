using Granary.Model.Configuration;
using Granary.Model.KvCache;
using static TorchSharp.torch;

namespace Granary.Model.Runtime;

/// <summary>
/// A decoder the engine can step, whether it sits on one device (<see cref="CausalLm"/>) or is cut into
/// shards (<see cref="Sharding.ShardedCausalLm"/>, or shards on grains): caches come from the model, and one
/// step runs one batched forward over every input and returns their logits.
/// </summary>
public interface ICausalLm : IDisposable
{
    ModelConfig Config { get; }

    /// <summary>Bytes of all weights over all devices (what a decode step must read).</summary>
    long NumWeightBytes { get; }

    /// <summary>KV bytes one position of one sequence takes over all layers and shards (for KV budgets).</summary>
    long NumKvBytesPerPosition { get; }

    /// <summary>A cache for one sequence of up to <paramref name="capacity"/> positions.</summary>
    IKvCache NewCache(int capacity);

    /// <summary>
    /// Runs one forward over all inputs (each with a cache from <see cref="NewCache"/>, or none), appends
    /// their K/V, and returns fp32 logits [R, V]: for each input in order, its last token's row, or all its rows.
    /// </summary>
    Tensor Step(IReadOnlyList<StepInput> inputs);
}
