using Granary.Abstractions.Sharding;
using Granary.Engine.Benchmarks;
using Granary.Grains.Deployments;
using Granary.Grains.Sharding;
using Granary.Model.Loading;
using Granary.Model.Runtime;

namespace Granary.Server.Benchmarks;

/// <summary>One plan's decode throughput at a batch size, and what its shards cost on the wire.</summary>
public sealed record PipelineBenchRun(
    string Plan, string MicroBatches, int BatchSize, double TokensPerSecond, double StepMs, double MeanForwardMs, double MeanHopMs,
    double BytesBetweenStagesPerToken, double AllReduceBytesPerToken);

/// <summary>
/// `granary bench pp`: the same batched decode (<see cref="DecodeBenchmark"/>) with the whole model in this
/// process, then with each plan's shards on silos of a loopback cluster, one after another in one run.
/// </summary>
public static class PipelineBenchmark
{
    public static async Task<IReadOnlyList<PipelineBenchRun>> RunAsync(
        string modelDir, IReadOnlyList<ParallelPlan> plans, int batchSize, int numSteps, Action<string>? progress, CancellationToken cancellationToken)
    {
        var runs = new List<PipelineBenchRun>();
        progress?.Invoke("plan none: the whole model in this process ...");
        using (var whole = ModelLoader.Load(modelDir, new ModelLoadOptions()))
        {
            TorchRuntime.FitThreadsToModel(whole.Model);
            var measured = DecodeBenchmark.Measure(whole.Model, batchSize, numSteps: numSteps);
            runs.Add(new PipelineBenchRun("none", "none", batchSize, measured.TokensPerSecond, measured.SecondsPerStep * 1000, measured.SecondsPerStep * 1000, 0, 0, 0));
        }
        int silos = Math.Max(2, plans.Max(p => p.NumShards));
        progress?.Invoke($"starting {silos} silos on loopback ...");
        await using var cluster = await LoopbackCluster.StartAsync(silos, cancellationToken);
        int generation = 1;
        foreach (var plan in plans)
        {
            foreach (bool? microBatches in plan.PipelineStages > 1 ? new bool?[] { null, true, false } : [null])
            {
                progress?.Invoke($"plan {plan}{microBatches switch { null => "", true => " with micro-batches", false => " without micro-batches" }} ...");
                var deployment = new DeploymentOptions { Name = "bench", ModelDirectory = modelDir, Plan = plan };
                var (model, shards) = await ShardedDeployment.LoadAsync(deployment, cluster.Grains, generation++, routerSilo: cluster.FirstSilo);
                model.MicroBatches.Fixed = microBatches switch { null => null, true => plan.PipelineStages, false => 1 };
                var allReduceBefore = await AllReduceBytes(cluster, shards);
                ShardTrafficSnapshot? before = null;
                // Warm-up long enough for tiered JIT to settle the grain-call paths of a fresh placement, and for
                // measured micro-batching to probe both choices.
                const int warmup = 40, promptTokens = 32;
                var measured = await Task.Run(() => DecodeBenchmark.Measure(model, batchSize, promptTokens, numSteps, warmup,
                    beforeTimedSteps: () => before = model.Traffic.Snapshot()), cancellationToken);
                var traffic = model.Traffic.Snapshot().Minus(before!);
                // All-reduce bytes are read from the shards, so they include the prefill and warm-up steps; per token of all of them.
                long allReduce = await AllReduceBytes(cluster, shards) - allReduceBefore;
                long allReduceTokens = (long)batchSize * (promptTokens + warmup + numSteps);
                string mode = microBatches switch { null => $"measured ({model.MicroBatches.Choose(batchSize)})", true => "per stage", false => "one" };
                runs.Add(new PipelineBenchRun(plan.ToString(), mode, batchSize, measured.TokensPerSecond, measured.SecondsPerStep * 1000,
                    traffic.MeanForwardMs, traffic.MeanHopMs, traffic.BytesBetweenStagesPerToken, (double)allReduce / allReduceTokens));
                await Task.WhenAll(shards.Select(s => cluster.Grains.GetGrain<IShardGrain>(s.Key).Unload()));
            }
        }
        return runs;
    }

    static async Task<long> AllReduceBytes(LoopbackCluster cluster, IReadOnlyList<ShardReport> shards) =>
        (await Task.WhenAll(shards.Select(s => cluster.Grains.GetGrain<IShardGrain>(s.Key).Describe()))).Sum(r => r.AllReduceBytesSent);
}
