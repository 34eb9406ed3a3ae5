using System.Diagnostics;
using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Speculation;
using Granary.Model.Runtime;
using Granary.Model.Tokenization;

namespace Granary.Engine.Benchmarks;

/// <summary>One way of decoding to compare: plain (no draft), or speculative with a draft.</summary>
public sealed record SpeculationBenchConfig(string Name, DraftModel? Draft);

/// <summary>One configuration at one batch size: median decode throughput over the repeats, and what speculation did.</summary>
public sealed record SpeculationMeasurement(
    string Config, int BatchSize, double TokensPerSecond, double[] RunTokensPerSecond, double? TokensPerCpuSecond,
    double? AcceptanceRate, double? MeanAcceptedLength, int? LearnedCap,
    long? PeakResidentBytes, long AccountedPeakBytes);

/// <summary>
/// Plain against speculative decoding on the same prompts, side by side in one process: for each batch
/// size every configuration runs <see cref="NumWarmupRuns"/> times untimed (warm-up; the adaptive k learns there), then the
/// configurations take turns for each timed repeat, so that machine noise hits them alike. Each
/// configuration keeps one engine throughout, as a serving deployment would. Greedy and EOS-ignoring, so
/// every run decodes exactly the same number of tokens.
/// </summary>
public static class SpeculationBenchmark
{
    public const int NumWarmupRuns = 2;

    public static IReadOnlyList<SpeculationMeasurement> Measure(
        CausalLm target, TextTokenizer tokenizer, IReadOnlyList<SpeculationBenchConfig> configs, IReadOnlyList<IReadOnlyList<int>> prompts,
        IReadOnlyList<int> batchSizes, int maxTokens, SpeculationOptions speculation, int repeats, Action<string>? progress = null)
    {
        var engines = configs.Select(c => new InferenceEngine(target, tokenizer,
            new SchedulerOptions { MaxNumRunningSequences = Math.Max(1, batchSizes.Max()), MaxNumBatchedTokens = 4096 }, c.Draft, speculation)).ToList();
        var results = new List<SpeculationMeasurement>();
        foreach (int batchSize in batchSizes)
        {
            var requests = Enumerable.Range(0, batchSize)
                .Select(i => new GenerationRequest(prompts[i % prompts.Count], new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true }))
                .ToList();
            progress?.Invoke($"batch {batchSize}: warm-up ...");
            for (int warmup = 0; warmup < NumWarmupRuns; warmup++)
                foreach (var engine in engines) Run(engine, requests);
            var runs = configs.Select(_ => new List<RunResult>()).ToList();
            for (int repeat = 0; repeat < repeats; repeat++)
                for (int c = 0; c < configs.Count; c++)
                    runs[c].Add(Run(engines[c], requests));
            for (int c = 0; c < configs.Count; c++)
            {
                var speeds = runs[c].Select(r => r.TokensPerSecond).ToArray();
                double? cpuSpeed = runs[c].All(r => r.TokensPerCpuSecond is not null) ? Median(runs[c].Select(r => r.TokensPerCpuSecond!.Value).ToArray()) : null;
                var stats = runs[c].Select(r => r.Speculation).Aggregate((a, b) => Sum(a, b));
                bool speculative = configs[c].Draft is not null;
                long weights = target.NumWeightBytes + (configs[c].Draft?.NumWeightBytes ?? 0);
                results.Add(new SpeculationMeasurement(
                    configs[c].Name, batchSize, Median(speeds), speeds, cpuSpeed,
                    speculative ? stats.AcceptanceRate : null, speculative ? stats.MeanAcceptedLength : null,
                    engines[c].Scheduler.Speculation?.Controller.CurrentCap(batchSize),
                    runs[c].Max(r => r.PeakResidentBytes),
                    weights + runs[c].Max(r => r.PeakKvTokens) * target.KvPool.NumBytesPerPosition));
                progress?.Invoke($"batch {batchSize} {configs[c].Name}: {Median(speeds):F1} tokens/s");
            }
        }
        return results;
    }

    sealed record RunResult(double TokensPerSecond, double? TokensPerCpuSecond, SpeculationSnapshot Speculation, long? PeakResidentBytes, long PeakKvTokens);

    // Decode throughput of one batch: tokens after each sequence's first, over the time after the prefill.
    static RunResult Run(InferenceEngine engine, IReadOnlyList<GenerationRequest> requests)
    {
        GC.Collect();
        PeakMemory.TryReset();
        var before = engine.SpeculationStats.Snapshot();
        var sequences = requests.Select(engine.Submit).ToList();
        long peakKv = 0;
        Stopwatch? decode = null;
        double? cpuStart = null;
        while (engine.HasWork)
        {
            engine.Step();
            peakKv = Math.Max(peakKv, engine.Scheduler.NumKvTokensReserved);
            if (decode is null && sequences.All(s => s.OutputTokenIds.Count > 0))
            {
                decode = Stopwatch.StartNew();
                cpuStart = ThreadCpuClock.Seconds();
            }
        }
        double? cpuSeconds = ThreadCpuClock.Seconds() - cpuStart;
        engine.Scheduler.RemoveLeavers();
        double seconds = decode?.Elapsed.TotalSeconds ?? 0;
        int numTokens = sequences.Sum(s => s.OutputTokenIds.Count - 1);
        return new RunResult(seconds > 0 ? numTokens / seconds : 0, cpuSeconds is > 0 ? numTokens / cpuSeconds : null,
            engine.SpeculationStats.Snapshot().Since(before), PeakMemory.PeakResidentBytes(), peakKv);
    }

    static SpeculationSnapshot Sum(SpeculationSnapshot a, SpeculationSnapshot b) => new(
        a.NumDraftTokens + b.NumDraftTokens, a.NumAcceptedTokens + b.NumAcceptedTokens, a.NumEmittedTokens + b.NumEmittedTokens, a.NumVerifications + b.NumVerifications);

    static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
