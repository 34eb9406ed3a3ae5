using Granary.Abstractions.Sharding;
using Granary.Engine.Benchmarks;
using Granary.Grains.Deployments;
using Granary.Grains.Sharding;
using Granary.Model.Loading;
using Granary.Model.Runtime;

namespace Granary.Server.Benchmarks;

/// <summary>
/// One plan's decode throughput at a batch size (the median over rounds), its ratio to no plan (the median of
/// the rounds' ratios, each against the no-plan run of the same round), and what its shards cost on the wire.
/// </summary>
public sealed record PipelineBenchRun(
    string Plan, int Lanes, string MicroBatches, int BatchSize, double TokensPerSecond, double StepMs, double RatioToNone, double MeanForwardMs, double MeanHopMs,
    double BytesBetweenStagesPerToken, double AllReduceBytesPerToken);

/// <summary>
/// `granary bench pp`: the same batched decode (<see cref="DecodeBenchmark"/>) with the whole model in this
/// process and with each plan's shards on silos of a loopback cluster. A plan runs as the router would serve it
/// (its default serving lanes, <see cref="PipelineLanes"/>, each decoding its share of the batch on a thread of its
/// own), and a pp plan also in one lane with each micro-batching choice. Every configuration is loaded once, then
/// they take turns for each round (each round starting one further along, so no configuration always runs
/// first), so a machine whose load changes during the run slows all of them alike; each reports its median. Decode runs on a thread of its own, as the router's serving loop does.
/// </summary>
public static class PipelineBenchmark
{
    const int FirstWarmupSteps = 40;  // long enough for tiered JIT to settle the grain-call paths, and for measured micro-batching to probe both choices
    const int RoundWarmupSteps = 4;   // each round prefills fresh sequences
    const int PromptTokens = 32;

    public static async Task<IReadOnlyList<PipelineBenchRun>> RunAsync(
        string modelDir, IReadOnlyList<ParallelPlan> plans, int batchSize, int numSteps, int numRounds, Action<string>? progress, CancellationToken cancellationToken)
    {
        progress?.Invoke("plan none: the whole model in this process ...");
        using var whole = ModelLoader.Load(modelDir, new ModelLoadOptions());
        TorchRuntime.FitThreadsToModel(whole.Model);
        // One slot per silo and a silo per shard: every plan keeps its own silos (tp ranks all-reduce across silos).
        int silos = Math.Max(2, plans.Sum(p => p.NumShards));
        progress?.Invoke($"starting {silos} silos on loopback ...");
        await using var cluster = await LoopbackCluster.StartAsync(silos, cancellationToken);

        var configurations = new List<Configuration> { new("none", whole.Model, 1, null, []) };
        int generation = 1;
        foreach (var plan in plans)
        {
            var deployment = new DeploymentOptions { Name = $"bench-{plan}".Replace(',', '-').Replace("=", ""), ModelDirectory = modelDir, Plan = plan };
            var (model, shards) = await ShardedDeployment.LoadAsync(deployment, cluster.Grains, generation++, routerSilo: cluster.FirstSilo);
            int lanes = Math.Min(batchSize, PipelineLanes.For(deployment, model, deployment.Scheduler).Count);
            configurations.Add(new Configuration(plan.ToString(), model, lanes, PipelineLanes.MicroBatchesFor(lanes), shards));
            // A pp plan also runs in one lane three ways, in turns on the same shards: micro-batching measured, one per stage, and one.
            if (plan.PipelineStages > 1)
                foreach (int? fixedMicroBatches in new int?[] { null, plan.PipelineStages, 1 })
                    if (lanes > 1 || fixedMicroBatches is not null)
                        configurations.Add(new Configuration(plan.ToString(), model, 1, fixedMicroBatches, shards));
        }

        var tokensPerSecond = configurations.Select(_ => new double[numRounds]).ToList();
        var traffic = configurations.Select(_ => new ShardTrafficSnapshot(0, 0, 0, 0, 0, 0)).ToList();
        for (int round = 0; round < numRounds; round++)
        {
            progress?.Invoke($"round {round + 1} of {numRounds} ...");
            int warmup = round == 0 ? FirstWarmupSteps : RoundWarmupSteps;
            // Each round starts with the next configuration, so none is always the first after a pause (or after the whole model).
            for (int k = 0; k < configurations.Count; k++)
            {
                int c = (k + round) % configurations.Count;
                var configuration = configurations[c];
                var sharded = configuration.Model as GrainShardedCausalLm;
                if (sharded is not null) sharded.MicroBatches.Fixed = configuration.FixedMicroBatches;
                ShardTrafficSnapshot? before = null;
                var measured = await OnOwnThread(() => DecodeBenchmark.MeasureLanes(configuration.Model, configuration.Lanes, batchSize, PromptTokens, numSteps, warmup,
                    beforeTimedSteps: () => before = sharded?.Traffic.Snapshot()));
                if (sharded is not null) traffic[c] = traffic[c].Plus(sharded.Traffic.Snapshot().Minus(before!));
                tokensPerSecond[c][round] = measured.TokensPerSecond;
            }
        }

        var runs = new List<PipelineBenchRun>();
        for (int c = 0; c < configurations.Count; c++)
        {
            var configuration = configurations[c];
            var sharded = configuration.Model as GrainShardedCausalLm;
            double medianTokensPerSecond = Median(tokensPerSecond[c]);
            double medianRatio = Median(tokensPerSecond[c].Select((t, round) => t / tokensPerSecond[0][round]));
            double allReducePerToken = 0;
            if (sharded is not null)
            {
                // All-reduce bytes are read from the shards, so they cover every step the plan ran (prefills, warm-ups, all modes).
                long tokens = sharded.Traffic.Snapshot().Tokens;
                allReducePerToken = tokens == 0 ? 0 : (double)await AllReduceBytes(cluster, configuration.Shards) / tokens;
            }
            string mode = sharded is null ? "none" : configuration.FixedMicroBatches switch
            {
                null => $"measured ({sharded.MicroBatches.Choose(batchSize)})",
                1 => "one",
                _ => "per stage",
            };
            runs.Add(new PipelineBenchRun(configuration.Plan, configuration.Lanes, mode, batchSize, medianTokensPerSecond, batchSize * 1000 / medianTokensPerSecond,
                medianRatio, sharded is null ? 1000 * batchSize / medianTokensPerSecond : traffic[c].MeanForwardMs, traffic[c].MeanHopMs,
                traffic[c].BytesBetweenStagesPerToken, allReducePerToken));
        }
        foreach (var model in configurations.Select(c => c.Model).OfType<GrainShardedCausalLm>().Distinct()) model.Dispose(); // unloads its shards
        return runs;
    }

    sealed record Configuration(string Plan, ICausalLm Model, int Lanes, int? FixedMicroBatches, IReadOnlyList<ShardReport> Shards);

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        int middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    // Blocking decode steps on a thread of their own: a thread-pool thread blocked in a step would be one fewer for
    // the silos' messaging and grain turns (a machine with few cores has few).
    static Task<T> OnOwnThread<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { IsBackground = true, Name = "granary-bench-decode" }.Start();
        return done.Task;
    }

    static async Task<long> AllReduceBytes(LoopbackCluster cluster, IReadOnlyList<ShardReport> shards) =>
        (await Task.WhenAll(shards.Select(s => cluster.Grains.GetGrain<IShardGrain>(s.Key).Describe()))).Sum(r => r.AllReduceBytesSent);
}
