using System.Diagnostics;
using Granary.Abstractions.Sharding;
using Granary.Model.KvCache;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Granary.Model.Sampling;
using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Engine.Benchmarks;

/// <summary>
/// One shard under a plan: what it holds and what a decode step costs it. <see cref="ModelledPeakBytes"/> is
/// its weights, the batch's KV on it and its largest per-step outputs (hidden states, and the logits of the
/// vocabulary it holds): in one process the shards share an allocator, so this is computed, not read.
/// </summary>
public sealed record VocabShardMeasurement(string Shard, long ParameterBytes, long KvBytes, long ActivationBytes, double BusyMsPerStep)
{
    public long ModelledPeakBytes => ParameterBytes + KvBytes + ActivationBytes;
}

/// <summary>A plan's shards and its greedy decode throughput at one batch size.</summary>
public sealed record VocabPlanMeasurement(string Plan, IReadOnlyList<VocabShardMeasurement> Shards, double StepMs, double TokensPerSecond)
{
    /// <summary>Largest over smallest shard parameter bytes: 1 is a perfectly balanced pipeline.</summary>
    public double ParameterBytesMaxOverMin => (double)Shards.Max(s => s.ParameterBytes) / Shards.Min(s => s.ParameterBytes);

    /// <summary>
    /// Tokens per second a pipeline with one device per shard would be bounded by: its busiest shard's time
    /// per step (stages overlap across micro-batches, so the slowest one sets the pace).
    /// </summary>
    public double PipelineBoundTokensPerSecond(int batchSize) => batchSize * 1000 / Shards.Max(s => s.BusyMsPerStep);
}

/// <summary>
/// `granary bench vp`: greedy batched decode of one model under plans with and without vocabulary
/// parallelism, in this process, timing every shard's own work (<see cref="ShardTimings"/>). With vp the
/// engine samples from the parts' summaries; without, from the gathered logits.
/// </summary>
public static class VocabParallelBenchmark
{
    public static VocabPlanMeasurement Measure(string modelDir, ParallelPlan plan, int batchSize, int promptTokens, int numSteps, int numWarmupSteps = 3)
    {
        using var model = ShardedCausalLm.Load(modelDir, new ModelLoadOptions(), plan);
        var shards = model.AllShards.ToList();
        var timings = model.Timings = new ShardTimings(shards.Count);
        var random = new Random(batchSize);
        int capacity = promptTokens + numWarmupSteps + numSteps;
        var caches = Enumerable.Range(0, batchSize).Select(_ => model.NewCache(capacity)).ToList();
        try
        {
            var next = Decode(model, caches.Select(c => new StepInput(c, Enumerable.Range(0, promptTokens).Select(_ => random.Next(model.Config.VocabSize)).ToArray())).ToList());
            for (int i = 0; i < numWarmupSteps; i++) next = Decode(model, Inputs(caches, next));
            timings.Reset();
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < numSteps; i++) next = Decode(model, Inputs(caches, next));
            double seconds = watch.Elapsed.TotalSeconds;
            double[] busy = timings.Seconds();
            var measured = shards.Select((shard, i) => Describe(shard, busy[i] * 1000 / numSteps, batchSize, capacity)).ToList();
            return new VocabPlanMeasurement(plan.ToString(), measured, seconds * 1000 / numSteps, batchSize * numSteps / seconds);
        }
        finally
        {
            foreach (var cache in caches) cache.Dispose();
        }
    }

    static List<StepInput> Inputs(IReadOnlyList<IKvCache> caches, int[] tokens) => caches.Select((c, i) => new StepInput(c, [tokens[i]])).ToList();

    // One step and its greedy tokens: gather-free over the vocabulary parts, or the argmax of the whole logits.
    static int[] Decode(ShardedCausalLm model, IReadOnlyList<StepInput> inputs)
    {
        if (model.SplitsVocabulary)
        {
            using var parts = model.StepParts(inputs);
            var greedy = new RowScoring(0, 1, Array.Empty<int>());
            var requests = inputs.Select((_, row) => new RowSampleRequest(row, new Abstractions.SamplingParams { Temperature = 0 }, greedy, () => 0)).ToList();
            return PartitionedSampler.Sample(parts.Parts, requests);
        }
        using var logits = model.Step(inputs);
        using var ids = logits.argmax(1);
        return ids.data<long>().Select(id => (int)id).ToArray();
    }

    static VocabShardMeasurement Describe(CausalLm shard, double busyMsPerStep, int batchSize, int positions)
    {
        var spec = shard.Network.Shard;
        long element = shard.Network.parameters().First().ElementSize;
        long logitColumns = spec.HasLmHead ? shard.Config.VocabSize : spec.Vocab?.Count ?? 0;
        long activations = batchSize * (shard.Config.HiddenSize + logitColumns) * element;
        long kv = (long)batchSize * positions * shard.NumKvBytesPerPosition;
        return new VocabShardMeasurement(spec.ToString(), shard.NumWeightBytes, kv, activations, busyMsPerStep);
    }
}
