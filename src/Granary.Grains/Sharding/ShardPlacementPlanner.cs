using Granary.Abstractions;
using Granary.Abstractions.Sharding;

namespace Granary.Grains.Sharding;

/// <summary>
/// Decides which silo holds each shard of a plan, from the device slots every silo has free (slots other
/// deployments hold are not offered: see <see cref="DeviceSlots"/>). Rules, in order:
/// never two shards on one slot; a stage's tensor-parallel ranks stay in one silo when a silo has slots for
/// all of them (their all-reduces then never leave the process); stages spread over different silos when
/// they can (so a stage's silo does one stage's work); otherwise the silo with most free slots. The last
/// stage goes to the router's silo when it has room: its output is the logits (vocabulary-sized rows, by far
/// the largest activations), which then reach the router without crossing the network. Deterministic for a
/// given silo list, so every router decides the same. Vocabulary-only shards (a plan with more vocabulary
/// parts than layer shards) take free slots last, on the silos with the fewest shards.
/// </summary>
public static class ShardPlacementPlanner
{
    /// <summary>
    /// Silo index of each shard, [stage][rank], then (when the plan has any) one more row: the silos of the
    /// vocabulary-only shards, by their order in <c>ShardSpec.ForPlan</c>. A user error when the cluster has too few slots.
    /// </summary>
    /// <param name="routerSilo">Index of the router's silo, if it is one of them.</param>
    public static int[][] Place(ParallelPlan plan, IReadOnlyList<int> slotsPerSilo, int? routerSilo = null)
    {
        int total = slotsPerSilo.Sum();
        if (total < plan.NumShards)
            throw new GranaryUserError(
                $"plan {plan} needs {plan.NumShards} device slots but the cluster has {total} free ({slotsPerSilo.Count} silo(s): {string.Join(", ", slotsPerSilo)}); add silos, raise Granary:Devices, or end deployments holding slots");
        var free = slotsPerSilo.ToArray();
        var stagesOn = new int[free.Length];
        var placement = new int[plan.PipelineStages][];
        int last = plan.PipelineStages - 1;
        var order = Enumerable.Range(0, plan.PipelineStages).ToList();
        int perStage = plan.TensorParallelRanks * plan.SequenceShards; // a stage's shards: its tensor ranks of each sequence shard
        bool lastNearRouter = routerSilo is { } r && r >= 0 && r < free.Length && free[r] >= perStage;
        if (lastNearRouter) order = [last, .. order.Take(last)];
        foreach (int stage in order)
        {
            int ranks = perStage;
            int whole = stage == last && lastNearRouter ? routerSilo!.Value : Best(free, stagesOn, s => free[s] >= ranks);
            placement[stage] = new int[ranks];
            for (int rank = 0; rank < ranks; rank++)
            {
                int silo = whole >= 0 ? whole : Best(free, stagesOn, s => free[s] > 0);
                placement[stage][rank] = silo;
                free[silo]--;
            }
            foreach (int silo in placement[stage].Distinct()) stagesOn[silo]++;
        }
        if (plan.NumVocabOnlyShards == 0) return placement;
        var vocabOnly = new int[plan.NumVocabOnlyShards];
        for (int i = 0; i < vocabOnly.Length; i++)
        {
            int silo = vocabOnly[i] = Best(free, stagesOn, s => free[s] > 0);
            free[silo]--;
            stagesOn[silo]++;
        }
        return [.. placement, vocabOnly];
    }

    // The fitting silo with the fewest stages on it, then the most free slots, then the lowest index; -1 if none fits.
    static int Best(int[] free, int[] stagesOn, Func<int, bool> fits)
    {
        int best = -1;
        for (int s = 0; s < free.Length; s++)
        {
            if (!fits(s)) continue;
            if (best < 0 || stagesOn[s] < stagesOn[best] || (stagesOn[s] == stagesOn[best] && free[s] > free[best])) best = s;
        }
        return best;
    }
}
