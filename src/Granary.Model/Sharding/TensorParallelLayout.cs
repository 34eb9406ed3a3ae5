using Granary.Abstractions;
using Granary.Model.Configuration;

namespace Granary.Model.Sharding;

/// <summary>
/// Megatron-style split of one layer over <c>size</c> ranks: rank r holds query heads
/// [QueryHeadStart, +NumQueryHeads), the KV heads those queries read, and MLP columns
/// [MlpStart, +MlpSize). With fewer KV heads than ranks each KV head is replicated on the ranks whose
/// queries use it, so attention never crosses ranks.
/// </summary>
public sealed record TensorParallelLayout(int QueryHeadStart, int NumQueryHeads, int KvHeadStart, int NumKvHeads, int MlpStart, int MlpSize)
{
    public static TensorParallelLayout For(ModelConfig config, int rank, int size)
    {
        Check(config, size, "tensor parallelism");
        int queryHeads = config.NumHeads / size;
        int kvHeads = Math.Max(1, config.NumKvHeads / size);
        // Query head j reads KV head j / (H / Hkv); a rank's queries are contiguous, so they read contiguous KV heads.
        int kvStart = rank * queryHeads / config.NumQueriesPerKv;
        int mlp = config.IntermediateSize / size;
        return new TensorParallelLayout(rank * queryHeads, queryHeads, kvStart, kvHeads, rank * mlp, mlp);
    }

    /// <summary>Throws a user error (prefixed by <paramref name="context"/>) when the model cannot be split over <paramref name="size"/> ranks.</summary>
    public static void Check(ModelConfig config, int size, string context)
    {
        if (size == 1) return;
        if (config.NumHeads % size != 0)
            throw new GranaryUserError($"{context}: tp={size} must divide the {config.NumHeads} attention heads");
        if (config.NumKvHeads % size != 0 && size % config.NumKvHeads != 0)
            throw new GranaryUserError($"{context}: tp={size} must divide the {config.NumKvHeads} KV heads or be a multiple of them");
        if (config.IntermediateSize % size != 0)
            throw new GranaryUserError($"{context}: tp={size} must divide the MLP width {config.IntermediateSize}");
    }
}
