using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Grains.Deployments;
using Granary.Model.Configuration;
using Granary.Model.Sharding;

namespace Granary.Grains.Sharding;

/// <summary>
/// Brings a deployment's plan up on the cluster: asks every active silo for its free device slots, places the
/// shards (<see cref="ShardPlacementPlanner"/>) and reserves their slots, has every shard grain load its
/// slices (claiming its slot), and returns the model the router's engine steps, which keeps the shards'
/// leases (<see cref="ShardLeases"/>) and unloads them when disposed. <paramref name="generation"/> numbers placements: a re-placement after a silo
/// left uses new grain keys, so no stale shard is ever reused.
/// </summary>
public static class ShardedDeployment
{
    /// <summary>How long a plan waits for silos to join with enough device slots before it fails.</summary>
    public static TimeSpan SlotWait { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a reserved slot waits for its shard to claim it (a router that died in between leaves it for this long).</summary>
    static readonly TimeSpan ClaimWithin = TimeSpan.FromMinutes(1);

    public static async Task<(GrainShardedCausalLm Model, IReadOnlyList<ShardReport> Shards)> LoadAsync(
        DeploymentOptions deployment, IGrainFactory grains, int generation, Action<string>? waiting = null, SiloAddress? routerSilo = null)
    {
        var config = ModelConfigJson.Load(deployment.ModelDirectory);
        var plan = deployment.Plan;
        var specs = ShardSpec.ForPlan(config, plan);
        // A stage's shards in spec order: sequence shard q, tensor rank r at index q * T + r; then the vocabulary-only shards.
        var vocabOnlyParts = specs.Where(s => s.IsVocabOnly).Select(s => s.Vocab!.Part).ToList();
        var (keysByStage, vocabOnlyKeys) = await PlaceAsync(deployment, generation, vocabOnlyParts, grains, waiting, routerSilo);

        var stages = new List<IReadOnlyList<IShardGrain>>();
        var vocabParts = new List<(IVocabPartGrain, VocabRange Range)>();
        var others = new List<IShardGrain>(); // vocabulary-only shards
        var loads = new List<Task>();
        int ranksPerStage = plan.TensorParallelRanks;
        for (int stage = 0; stage < plan.PipelineStages; stage++)
        {
            var keys = keysByStage[stage];
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
            string key = vocabOnlyKeys[i];
            var shard = grains.GetGrain<IShardGrain>(key);
            loads.Add(shard.Load(Assignment(deployment, generation, spec, [key], true)));
            vocabParts.Add((grains.GetGrain<IVocabPartGrain>(key), spec.Vocab!));
            others.Add(shard);
        }
        var allShards = stages.SelectMany(ranks => ranks).Concat(others).ToList();
        // Renewed from here on; a failed load unloads them all (each frees its slot), so no slot stays held.
        var leases = new ShardLeases(allShards, deployment.ShardLease);
        try
        {
            await Task.WhenAll(loads);
            var reports = await Task.WhenAll(allShards.Select(s => s.Describe()));
            var model = new GrainShardedCausalLm(config, stages, reports.Sum(r => r.ParameterBytes), reports.Sum(r => r.KvBytesPerPosition),
                vocabParts.OrderBy(p => p.Range.Part).ToList(), plan.SequenceShards, deployment.KvTokensPerShard, leases);
            return (model, reports);
        }
        catch
        {
            leases.Dispose();
            await ReleaseAsync(grains, keysByStage.SelectMany(k => k).Concat(vocabOnlyKeys));
            throw;
        }
    }

    static ShardAssignment Assignment(DeploymentOptions deployment, int generation, ShardSpec spec, string[] peerKeys, bool shareSilo) =>
        new(deployment.Name, generation, deployment.ModelDirectory, deployment.Device, deployment.DType,
            spec.Stage, spec.NumStages, spec.LayerStart, spec.LayerEnd, spec.TpRank, peerKeys, shareSilo,
            spec.Vocab?.Part ?? -1, spec.NumVocabParts, spec.SpRank, Lease: deployment.ShardLease);

    // Places the shards on the free slots of the active silos (in a stable order) once the cluster has enough, and
    // reserves those slots; another deployment taking one first makes it place again. Returns the shards' keys.
    static async Task<(List<string[]> KeysByStage, string[] VocabOnlyKeys)> PlaceAsync(
        DeploymentOptions deployment, int generation, IReadOnlyList<int> vocabOnlyParts, IGrainFactory grains, Action<string>? waiting, SiloAddress? routerSilo)
    {
        var plan = deployment.Plan;
        var deadline = DateTime.UtcNow + SlotWait;
        var lastReport = DateTime.MinValue;
        while (true)
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            var silos = hosts.Keys.OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToList();
            await TakeOverOtherPlacementsAsync(grains, silos, deployment.Name, generation);
            var free = await Task.WhenAll(silos.Select(s => Devices(grains, s).GetFreeSlots()));
            if (free.Sum() >= plan.NumShards || DateTime.UtcNow >= deadline)
            {
                var placement = ShardPlacementPlanner.Place(plan, free, routerSilo is null ? null : silos.IndexOf(routerSilo)); // throws when still short
                var keysByStage = Enumerable.Range(0, plan.PipelineStages).Select(stage => placement[stage]
                    .Select((silo, index) => ShardKey.ForShard(deployment.Name, generation, stage, index, silos[silo])).ToArray()).ToList();
                var vocabOnlyKeys = plan.NumVocabOnlyShards == 0 ? []
                    : placement[plan.PipelineStages].Select((silo, i) => ShardKey.ForVocabShard(deployment.Name, generation, vocabOnlyParts[i], silos[silo])).ToArray();
                var keys = keysByStage.SelectMany(k => k).Concat(vocabOnlyKeys).ToList();
                var reserved = await Task.WhenAll(keys.Select(k => Devices(grains, ShardKey.SiloOf(k)).TryReserve(k, ClaimWithin)));
                if (reserved.All(r => r)) return (keysByStage, vocabOnlyKeys);
                await ReleaseAsync(grains, keys.Where((_, i) => reserved[i]));
            }
            if (DateTime.UtcNow - lastReport > TimeSpan.FromSeconds(10))
            {
                waiting?.Invoke($"plan {plan} needs {plan.NumShards} device slots, the cluster has {free.Sum()} free on {silos.Count} silo(s); waiting for more silos or for other deployments to free theirs");
                lastReport = DateTime.UtcNow;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }

    // This placement supersedes the deployment's earlier ones: their slots are freed for it now, and their shards
    // (if still loaded: a lost silo's neighbours, a failed attempt's loads) are told to unload.
    static async Task TakeOverOtherPlacementsAsync(IGrainFactory grains, IEnumerable<SiloAddress> silos, string deployment, int generation)
    {
        var stale = await Task.WhenAll(silos.Select(async silo =>
        {
            try
            {
                return await Devices(grains, silo).ReleaseOtherPlacements(deployment, generation);
            }
            catch (Exception)
            {
                return Array.Empty<string>(); // a silo leaving as we ask: its slots go with it
            }
        }));
        foreach (string key in stale.SelectMany(k => k)) _ = QuietCalls.RunAsync(grains.GetGrain<IShardGrain>(key).Unload);
    }

    static ISiloDevicesGrain Devices(IGrainFactory grains, SiloAddress silo) => grains.GetGrain<ISiloDevicesGrain>(ShardKey.ForSilo(silo));

    static Task ReleaseAsync(IGrainFactory grains, IEnumerable<string> keys) =>
        Task.WhenAll(keys.Select(k => Devices(grains, ShardKey.SiloOf(k)).Release(k)));
}
