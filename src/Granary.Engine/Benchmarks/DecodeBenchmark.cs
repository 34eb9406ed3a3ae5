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
        var caches = new List<IKvCache>();
        try
        {
            StartSequences(model, caches, batchSize, promptTokens, numWarmupSteps, numSteps, random);
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

    /// <summary>
    /// <see cref="Measure"/> with the batch split over <paramref name="numLanes"/> threads that step the model at
    /// once, each its own share of the sequences (a router's pipeline lanes); the timed steps of all lanes start
    /// together, and the throughput counts every lane's tokens over the time until the last lane is done.
    /// </summary>
    public static DecodeMeasurement MeasureLanes(ICausalLm model, int numLanes, int batchSize, int promptTokens = 32, int numSteps = 24, int numWarmupSteps = 3,
        Action? beforeTimedSteps = null)
    {
        if (numLanes <= 1) return Measure(model, batchSize, promptTokens, numSteps, numWarmupSteps, beforeTimedSteps);
        if (numLanes > batchSize) throw new ArgumentOutOfRangeException(nameof(numLanes), $"{numLanes} lanes need at least as many sequences (batch {batchSize})");
        using var ready = new Barrier(numLanes, _ => beforeTimedSteps?.Invoke());
        var elapsed = new double[numLanes];
        var failures = new Exception?[numLanes];
        var started = 0L;
        var threads = Enumerable.Range(0, numLanes).Select(lane => new Thread(() =>
        {
            int laneBatch = batchSize / numLanes + (lane < batchSize % numLanes ? 1 : 0);
            var random = new Random(batchSize * 31 + lane);
            var caches = new List<IKvCache>();
            bool signalled = false;
            try
            {
                StartSequences(model, caches, laneBatch, promptTokens, numWarmupSteps, numSteps, random);
                signalled = true;
                ready.SignalAndWait();
                Interlocked.CompareExchange(ref started, Stopwatch.GetTimestamp(), 0);
                for (int i = 0; i < numSteps; i++) DecodeStep(model, caches, random);
                elapsed[lane] = Stopwatch.GetElapsedTime(Interlocked.Read(ref started)).TotalSeconds;
            }
            catch (Exception e)
            {
                failures[lane] = e;
                if (!signalled) LeaveBarrier(ready); // the other lanes must not wait for this one
            }
            finally
            {
                foreach (var cache in caches) cache.Dispose();
            }
        }) { IsBackground = true, Name = $"granary-bench-lane-{lane}" }).ToList();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        if (failures.FirstOrDefault(f => f is not null) is { } failure) throw new InvalidOperationException($"a decode lane failed: {failure.Message}", failure);
        double seconds = elapsed.Max();
        return new DecodeMeasurement(batchSize, numSteps, seconds / numSteps, batchSize * numSteps / seconds);
    }

    // Makes count sequences (their caches go into caches, which the caller disposes), prefills them with random
    // prompts together and takes the warm-up steps.
    static void StartSequences(ICausalLm model, List<IKvCache> caches, int count, int promptTokens, int numWarmupSteps, int numSteps, Random random)
    {
        for (int i = 0; i < count; i++) caches.Add(model.NewCache(promptTokens + numWarmupSteps + numSteps));
        model.Step(caches.Select(c => new StepInput(c, RandomTokens(random, promptTokens, model.Config.VocabSize))).ToList()).Dispose();
        for (int i = 0; i < numWarmupSteps; i++) DecodeStep(model, caches, random);
    }

    static void LeaveBarrier(Barrier barrier)
    {
        try
        {
            barrier.RemoveParticipant();
        }
        catch (Exception e) when (e is InvalidOperationException or BarrierPostPhaseException)
        {
            // The phase ended anyway (or its action failed, which the lanes that waited report).
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
