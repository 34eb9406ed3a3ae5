using Granary.Abstractions.Sharding;
using Granary.Engine.Benchmarks;
using Granary.Grains.Deployments;
using Granary.Grains.Sharding;
using Granary.Model.Loading;
using Granary.Model.Runtime;

namespace Granary.Server.Benchmarks;

/// <summary>One plan's decode throughput at a batch size, and what its shards cost on the wire.</summary>
public sealed record PipelineBenchRun(
    string Plan, bool MicroBatches, int BatchSize, double TokensPerSecond, double StepMs, double MeanHopMs,
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
            runs.Add(new PipelineBenchRun("none", false, batchSize, measured.TokensPerSecond, measured.SecondsPerStep * 1000, 0, 0, 0));
        }
        int silos = Math.Max(2, plans.Max(p => p.NumShards));
        progress?.Invoke($"starting {silos} silos on loopback ...");
        await using var cluster = await LoopbackCluster.StartAsync(silos, cancellationToken);
        int generation = 1;
        foreach (var plan in plans)
        {
            foreach (bool microBatches in plan.PipelineStages > 1 ? new[] { true, false } : [true])
            {
                progress?.Invoke($"plan {plan}{(microBatches ? "" : " without micro-batches")} ...");
                var deployment = new DeploymentOptions { Name = "bench", ModelDirectory = modelDir, Plan = plan };
                var (model, shards) = await ShardedDeployment.LoadAsync(deployment, cluster.Grains, generation++, routerSilo: cluster.FirstSilo);
                model.MaxMicroBatches = microBatches ? plan.PipelineStages : 1;
                var allReduceBefore = await AllReduceBytes(cluster, shards);
                var before = model.Traffic.Snapshot();
                var measured = await Task.Run(() => DecodeBenchmark.Measure(model, batchSize, numSteps: numSteps), cancellationToken);
                var traffic = model.Traffic.Snapshot().Minus(before);
                long allReduce = await AllReduceBytes(cluster, shards) - allReduceBefore;
                // The traffic covers the prefill and warm-up steps too; per-token figures use all of its tokens.
                runs.Add(new PipelineBenchRun(plan.ToString(), microBatches, batchSize, measured.TokensPerSecond, measured.SecondsPerStep * 1000,
                    traffic.MeanHopMs, traffic.BytesBetweenStagesPerToken, traffic.Tokens == 0 ? 0 : (double)allReduce / traffic.Tokens));
                await Task.WhenAll(shards.Select(s => cluster.Grains.GetGrain<IShardGrain>(s.Key).Unload()));
            }
        }
        return runs;
    }

    static async Task<long> AllReduceBytes(LoopbackCluster cluster, IReadOnlyList<ShardReport> shards) =>
        (await Task.WhenAll(shards.Select(s => cluster.Grains.GetGrain<IShardGrain>(s.Key).Describe()))).Sum(r => r.AllReduceBytesSent);
}
