using System.Diagnostics;
using Granary.Model.KvCache;
using Granary.Model.Runtime;

namespace Granary.Engine.Benchmarks;

/// <summary>One batch size's decode throughput.</summary>
public sealed record DecodeMeasurement(int BatchSize, int NumSteps, double SecondsPerStep, double TokensPerSecond);

/// <summary>
/// Decode throughput at several batch sizes: each sequence is prefilled with a short prompt, then the batch
/// takes timed decode steps together (one ragged forward per step, every sequence one new token).
/// </summary>
public static class DecodeBenchmark
{
    /// <param name="beforeTimedSteps">Runs after the prefill and warm-up, just before the timed steps (to snapshot counters).</param>
    public static DecodeMeasurement Measure(ICausalLm model, int batchSize, int promptTokens = 32, int numSteps = 24, int numWarmupSteps = 3,
        Action? beforeTimedSteps = null)
    {
        var random = new Random(batchSize);
        int vocab = model.Config.VocabSize;
        var caches = Enumerable.Range(0, batchSize)
            .Select(_ => model.NewCache(promptTokens + numWarmupSteps + numSteps))
            .ToList();
        try
        {
            var prompts = caches.Select(c => new StepInput(c, RandomTokens(random, promptTokens, vocab))).ToList();
            model.Step(prompts).Dispose();
            for (int i = 0; i < numWarmupSteps; i++) DecodeStep(model, caches, random);
            beforeTimedSteps?.Invoke();
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < numSteps; i++) DecodeStep(model, caches, random);
            double seconds = watch.Elapsed.TotalSeconds;
            return new DecodeMeasurement(batchSize, numSteps, seconds / numSteps, batchSize * numSteps / seconds);
        }
        finally
        {
            foreach (var cache in caches) cache.Dispose();
        }
    }

    // The sampled token does not change the cost of a step; random ids keep the benchmark independent of sampling.
    static void DecodeStep(ICausalLm model, IReadOnlyList<IKvCache> caches, Random random)
    {
        var inputs = caches.Select(c => new StepInput(c, [random.Next(model.Config.VocabSize)])).ToList();
        using var logits = model.Step(inputs);
        using var nextTokens = logits.argmax(1).cpu(); // wait for the step to complete, as sampling would
    }

    static int[] RandomTokens(Random random, int count, int vocab) =>
        Enumerable.Range(0, count).Select(_ => random.Next(vocab)).ToArray();
}
