using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Grains.Deployments;
using Granary.Model.Configuration;
using Granary.Model.Sharding;

namespace Granary.Grains.Sharding;

/// <summary>
/// Brings a deployment's plan up on the cluster: asks every active silo for its device slots, places the
/// shards (<see cref="ShardPlacementPlanner"/>), has every shard grain load its slices, and returns the model
/// the router's engine steps. <paramref name="generation"/> numbers placements: a re-placement after a silo
/// left uses new grain keys, so no stale shard is ever reused.
/// </summary>
public static class ShardedDeployment
{
    /// <summary>How long a plan waits for silos to join with enough device slots before it fails.</summary>
    public static TimeSpan SlotWait { get; set; } = TimeSpan.FromMinutes(2);

    public static async Task<(GrainShardedCausalLm Model, IReadOnlyList<ShardReport> Shards)> LoadAsync(
        DeploymentOptions deployment, IGrainFactory grains, int generation, Action<string>? waiting = null, SiloAddress? routerSilo = null)
    {
        var config = ModelConfigJson.Load(deployment.ModelDirectory);
        var plan = deployment.Plan;
        var specs = ShardSpec.ForPlan(config, plan);
        var (silos, placement) = await PlaceAsync(plan, grains, waiting, routerSilo);

        var stages = new List<IReadOnlyList<IShardGrain>>();
        var vocabParts = new List<(IVocabPartGrain, VocabRange Range)>();
        var others = new List<IShardGrain>(); // vocabulary-only shards
        var loads = new List<Task>();
        var keysByStage = new List<string[]>();
        for (int stage = 0; stage < plan.PipelineStages; stage++)
        {
            // A stage's shards in spec order: sequence shard q, tensor rank r at index q * T + r.
            int ranksPerStage = plan.TensorParallelRanks;
            var keys = Enumerable.Range(0, ranksPerStage * plan.SequenceShards)
                .Select(index => ShardKey.ForShard(deployment.Name, generation, stage, index, silos[placement[stage][index]])).ToArray();
            keysByStage.Add(keys);
            var ranks = new List<IShardGrain>();
            foreach (var spec in specs.Where(s => s.Stage == stage))
            {
                int index = spec.SpRank * ranksPerStage + spec.TpRank;
                var tensorPeers = keys.Skip(spec.SpRank * ranksPerStage).Take(ranksPerStage).ToArray();
                bool shareSilo = tensorPeers.Select(ShardKey.SiloOf).Distinct().Count() == 1;
                string[]? sequencePeers = plan.IsSequenceParallel
                    ? Enumerable.Range(0, plan.SequenceShards).Select(q => keys[q * ranksPerStage + spec.TpRank]).ToArray()
                    : null;
                var shard = grains.GetGrain<IShardGrain>(keys[index]);
                ranks.Add(shard);
                loads.Add(shard.Load(Assignment(deployment, generation, spec, tensorPeers, shareSilo) with { SequencePeerKeys = sequencePeers }));
                if (spec.Vocab is { } range) vocabParts.Add((grains.GetGrain<IVocabPartGrain>(keys[index]), range));
            }
            stages.Add(ranks);
        }
        var vocabOnly = specs.Where(s => s.IsVocabOnly).ToList();
        for (int i = 0; i < vocabOnly.Count; i++)
        {
            var spec = vocabOnly[i];
            string key = ShardKey.ForVocabShard(deployment.Name, generation, spec.Vocab!.Part, silos[placement[plan.PipelineStages][i]]);
            var shard = grains.GetGrain<IShardGrain>(key);
            loads.Add(shard.Load(Assignment(deployment, generation, spec, [key], true)));
            vocabParts.Add((grains.GetGrain<IVocabPartGrain>(key), spec.Vocab));
            others.Add(shard);
        }
        await Task.WhenAll(loads);
        var reports = await Task.WhenAll(stages.SelectMany(ranks => ranks).Concat(others).Select(s => s.Describe()));
        var model = new GrainShardedCausalLm(config, stages, reports.Sum(r => r.ParameterBytes), reports.Sum(r => r.KvBytesPerPosition),
            vocabParts.OrderBy(p => p.Range.Part).ToList(), plan.SequenceShards, deployment.KvTokensPerShard);
        return (model, reports);
    }

    static ShardAssignment Assignment(DeploymentOptions deployment, int generation, ShardSpec spec, string[] peerKeys, bool shareSilo) =>
        new(deployment.Name, generation, deployment.ModelDirectory, deployment.Device, deployment.DType,
            spec.Stage, spec.NumStages, spec.LayerStart, spec.LayerEnd, spec.TpRank, peerKeys, shareSilo,
            spec.Vocab?.Part ?? -1, spec.NumVocabParts, spec.SpRank);

    // The active silos (in a stable order) and the shards' silo indices, once the cluster has slots for them all.
    static async Task<(List<SiloAddress> Silos, int[][] Placement)> PlaceAsync(ParallelPlan plan, IGrainFactory grains, Action<string>? waiting, SiloAddress? routerSilo)
    {
        var deadline = DateTime.UtcNow + SlotWait;
        var lastReport = DateTime.MinValue;
        while (true)
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            var silos = hosts.Keys.OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToList();
            var slots = await Task.WhenAll(silos.Select(s => grains.GetGrain<ISiloDevicesGrain>(ShardKey.ForSilo(s)).GetDeviceSlots()));
            if (slots.Sum() >= plan.NumShards || DateTime.UtcNow >= deadline)
                return (silos, ShardPlacementPlanner.Place(plan, slots, routerSilo is null ? null : silos.IndexOf(routerSilo))); // throws when still short
            if (DateTime.UtcNow - lastReport > TimeSpan.FromSeconds(10))
            {
                waiting?.Invoke($"plan {plan} needs {plan.NumShards} device slots, the cluster has {slots.Sum()} on {silos.Count} silo(s); waiting for more silos");
                lastReport = DateTime.UtcNow;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }
}
