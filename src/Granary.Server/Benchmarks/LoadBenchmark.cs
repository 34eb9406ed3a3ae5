using System.Collections.Concurrent;
using System.Diagnostics;

namespace Granary.Server.Benchmarks;

/// <summary>What `granary bench load` measured over its fixed duration.</summary>
public sealed record LoadBenchRun(
    int NumClients, double Seconds, int NumRequests, int NumErrors, IReadOnlyList<string> ErrorSamples, long NumTokens,
    LatencySummary TimeToFirstToken, LatencySummary InterToken, IReadOnlyList<RssSample> Rss)
{
    public double TokensPerSecond => Seconds > 0 ? NumTokens / Seconds : 0;
}

/// <summary>This process's resident memory at a fraction of the run.</summary>
public sealed record RssSample(double FractionOfRun, long Bytes);

/// <summary>
/// A soak: many concurrent streaming clients, each sending requests one after another (closed loop) until the
/// duration is over, then finishing the one it has in flight. Counts every failed request, records time to
/// first token and inter-token gaps, and samples resident memory at 25, 50, 75 and 100% of the duration, so
/// a leak per request shows as growth between the half and the end.
/// </summary>
public static class LoadBenchmark
{
    static readonly double[] RssFractions = [0.25, 0.5, 0.75, 1.0];
    const int MaxErrorSamples = 5;

    public static async Task<LoadBenchRun> RunAsync(IStreamingCompletionClient client, int numClients, TimeSpan duration, int maxTokens,
        Func<long> residentBytes, CancellationToken cancellationToken = default)
    {
        var completions = ServeBenchScenario.Prompts.Select(p => new BenchCompletion(p, maxTokens)).ToList();
        var log = new LoadLog();
        var watch = Stopwatch.StartNew();
        var sampling = SampleRssAsync(watch, duration, residentBytes, cancellationToken);
        await Task.WhenAll(Enumerable.Range(0, numClients)
            .Select(c => Task.Run(() => RunClientAsync(client, c, completions, watch, duration, log, cancellationToken), cancellationToken)));
        double seconds = watch.Elapsed.TotalSeconds;
        var rss = await sampling;
        return new LoadBenchRun(numClients, seconds, log.NumRequests, log.NumErrors, log.ErrorSamples.ToList(), log.NumTokens,
            LatencySummary.Of(log.TimeToFirstTokenMs.ToList()), LatencySummary.Of(log.InterTokenMs.ToList()), rss);
    }

    sealed class LoadLog
    {
        public int NumRequests;
        public int NumErrors;
        public long NumTokens;
        public readonly ConcurrentQueue<string> ErrorSamples = new();
        public readonly ConcurrentBag<double> TimeToFirstTokenMs = [];
        public readonly ConcurrentBag<double> InterTokenMs = [];
    }

    static async Task RunClientAsync(IStreamingCompletionClient client, int clientIndex, IReadOnlyList<BenchCompletion> completions,
        Stopwatch watch, TimeSpan duration, LoadLog log, CancellationToken cancellationToken)
    {
        for (int r = 0; watch.Elapsed < duration; r++)
        {
            var completion = completions[(clientIndex + r) % completions.Count];
            long previous = Stopwatch.GetTimestamp();
            bool isFirst = true;
            var gaps = new List<double>();
            long numTokens = 0;
            try
            {
                await foreach (int count in client.StreamAsync(completion, cancellationToken))
                {
                    long now = Stopwatch.GetTimestamp();
                    double gap = Stopwatch.GetElapsedTime(previous, now).TotalMilliseconds;
                    if (isFirst) log.TimeToFirstTokenMs.Add(gap);
                    else gaps.Add(gap);
                    previous = now;
                    isFirst = false;
                    numTokens += count;
                }
                if (numTokens != completion.MaxTokens) throw new InvalidOperationException($"{numTokens} tokens streamed, {completion.MaxTokens} asked for");
                foreach (double gap in gaps) log.InterTokenMs.Add(gap);
                Interlocked.Add(ref log.NumTokens, numTokens);
                Interlocked.Increment(ref log.NumRequests);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref log.NumRequests);
                if (Interlocked.Increment(ref log.NumErrors) <= MaxErrorSamples) log.ErrorSamples.Enqueue($"{e.GetType().Name}: {e.Message}");
            }
        }
    }

    static async Task<IReadOnlyList<RssSample>> SampleRssAsync(Stopwatch watch, TimeSpan duration, Func<long> residentBytes, CancellationToken cancellationToken)
    {
        var samples = new List<RssSample>();
        foreach (double fraction in RssFractions)
        {
            var wait = duration * fraction - watch.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
            samples.Add(new RssSample(fraction, residentBytes()));
        }
        return samples;
    }

    /// <summary>This process's resident set size now (VmRSS on Linux).</summary>
    public static long CurrentProcessRss()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}
