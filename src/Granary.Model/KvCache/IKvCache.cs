using static TorchSharp.torch;

namespace Granary.Model.KvCache;

/// <summary>
/// One sequence's keys and values as the engine sees them: a capacity reserved at admission and the number
/// of positions stored. Where the tensors live is the model's business: one pool on one device
/// (<see cref="SequenceKvCache"/>), or a slice on every shard of a plan.
/// </summary>
public interface IKvCache : IDisposable
{
    int Capacity { get; }

    /// <summary>Positions [0, Length) hold keys and values.</summary>
    int Length { get; }

    bool CanAppend(int numTokens);

    /// <summary>Forgets positions [length, Length) (rejected speculative tokens).</summary>
    void Truncate(int length);

    /// <summary>
    /// Whether <see cref="ExportPositions"/> and <see cref="ImportPositions"/> work. The KV tier (prefix reuse,
    /// offload) only touches caches that say yes; the default is no, so a cache spread over shards (whose
    /// slices live on other devices or grains) is simply never reused until it implements both.
    /// </summary>
    bool CanTransferPositions => false;

    /// <summary>A copy of positions [start, start + count) of every layer: [layers, 2 (k, v), kvHeads, count, headDim].</summary>
    Tensor ExportPositions(int start, int count) =>
        throw new NotSupportedException($"{GetType().Name} cannot export KV positions");

    /// <summary>Appends <paramref name="kv"/> ([layers, 2, kvHeads, n, headDim], any device) at <see cref="Length"/> and advances by n.</summary>
    void ImportPositions(Tensor kv) =>
        throw new NotSupportedException($"{GetType().Name} cannot import KV positions");
}
