using Granary.Model.Sharding;

namespace Granary.Grains.Sharding;

/// <summary>
/// A silo's in-process tensor-parallel groups: when all ranks of a stage are placed in this silo, their
/// shard grains share one <see cref="InProcessTensorParallelGroup"/> and all-reduce without a copy.
/// </summary>
public sealed class LocalShardGroups
{
    readonly Dictionary<(string Deployment, int Generation, int Stage), IReadOnlyList<ITensorParallelGroup>> _groups = [];

    public ITensorParallelGroup Rank(string deployment, int generation, int stage, int rank, int numRanks)
    {
        lock (_groups)
        {
            var key = (deployment, generation, stage);
            if (!_groups.TryGetValue(key, out var ranks)) _groups[key] = ranks = InProcessTensorParallelGroup.Create(numRanks);
            return ranks[rank];
        }
    }
}
