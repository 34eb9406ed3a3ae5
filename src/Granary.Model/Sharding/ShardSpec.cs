using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Model.Configuration;

namespace Granary.Model.Sharding;

/// <summary>
/// Which part of a model one shard holds: decoder layers [<see cref="LayerStart"/>, <see cref="LayerEnd"/>) of
/// pipeline stage <see cref="Stage"/>, and tensor-parallel rank <see cref="TpRank"/> of <see cref="TpSize"/>
/// within them. The first stage also holds the token embedding, the last the final norm and LM head
/// (replicated over the stage's ranks).
/// </summary>
public sealed record ShardSpec(int Stage, int NumStages, int LayerStart, int LayerEnd, int TpRank, int TpSize)
{
    /// <summary>The whole model on one device.</summary>
    public static ShardSpec Whole(ModelConfig config) => new(0, 1, 0, config.NumLayers, 0, 1);

    public bool IsFirstStage => Stage == 0;

    public bool IsLastStage => Stage == NumStages - 1;

    public int NumLayers => LayerEnd - LayerStart;

    public bool IsWhole => NumStages == 1 && TpSize == 1;

    public override string ToString() => $"stage {Stage} (layers {LayerStart}-{LayerEnd - 1}) rank {TpRank}/{TpSize}";

    /// <summary>
    /// Every shard of <paramref name="plan"/>, stage-major. Stages get contiguous layer ranges as even as the
    /// layer count allows (the first stages take one more layer when it does not divide). A user error names
    /// what the model cannot be split by.
    /// </summary>
    public static IReadOnlyList<ShardSpec> ForPlan(ModelConfig config, ParallelPlan plan)
    {
        int stages = plan.PipelineStages, ranks = plan.TensorParallelRanks;
        if (stages > config.NumLayers)
            throw new GranaryUserError($"plan {plan}: pp={stages} needs at least {stages} layers but the model has {config.NumLayers}");
        TensorParallelLayout.Check(config, ranks, $"plan {plan}");
        var specs = new List<ShardSpec>(stages * ranks);
        int start = 0;
        for (int s = 0; s < stages; s++)
        {
            int count = config.NumLayers / stages + (s < config.NumLayers % stages ? 1 : 0);
            for (int r = 0; r < ranks; r++) specs.Add(new ShardSpec(s, stages, start, start + count, r, ranks));
            start += count;
        }
        return specs;
    }
}
