using System.Diagnostics;

namespace Granary.Server.Benchmarks;

/// <summary>Nearest-rank percentiles of a set of latencies, in milliseconds.</summary>
public sealed record LatencySummary(int Count, double P50Ms, double P99Ms)
{
    public static LatencySummary Of(IReadOnlyCollection<double> milliseconds)
    {
        if (milliseconds.Count == 0) return new LatencySummary(0, 0, 0);
        var sorted = milliseconds.Order().ToArray();
        return new LatencySummary(sorted.Length, Percentile(sorted, 0.50), Percentile(sorted, 0.99));
    }

    static double Percentile(double[] sorted, double fraction) => sorted[Math.Max(0, (int)Math.Ceiling(fraction * sorted.Length) - 1)];
}

/// <summary>What one client count measured: throughput over the whole run, and per-request latencies.</summary>
public sealed record ServeBenchRun(
    int NumClients, int NumRequests, long NumTokens, double Seconds, LatencySummary TimeToFirstToken, LatencySummary InterToken)
{
    public double TokensPerSecond => Seconds > 0 ? NumTokens / Seconds : 0;
}

/// <summary>
/// Concurrent streaming clients, each sending its requests one after another (a closed loop, as vLLM's
/// serving benchmark does with a fixed concurrency): generated tokens/s over the wall time of the whole run,
/// time to first token per request, and the gaps between a request's later tokens.
/// </summary>
public static class ServeBenchmark
{
    public static async Task<ServeBenchRun> RunAsync(
        IStreamingCompletionClient client, int numClients, int requestsPerClient, IReadOnlyList<BenchCompletion> completions,
        CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var logs = await Task.WhenAll(Enumerable.Range(0, numClients)
            .Select(c => Task.Run(() => RunClient(client, c, requestsPerClient, completions, cancellationToken), cancellationToken)));
        double seconds = watch.Elapsed.TotalSeconds;
        return new ServeBenchRun(
            numClients, numClients * requestsPerClient, logs.Sum(l => l.NumTokens), seconds,
            LatencySummary.Of(logs.SelectMany(l => l.TimeToFirstTokenMs).ToList()),
            LatencySummary.Of(logs.SelectMany(l => l.InterTokenMs).ToList()));
    }

    sealed class ClientLog
    {
        public long NumTokens;
        public readonly List<double> TimeToFirstTokenMs = [];
        public readonly List<double> InterTokenMs = [];
    }

    static async Task<ClientLog> RunClient(
        IStreamingCompletionClient client, int clientIndex, int numRequests, IReadOnlyList<BenchCompletion> completions, CancellationToken cancellationToken)
    {
        var log = new ClientLog();
        for (int r = 0; r < numRequests; r++)
        {
            // Clients start on different prompts, so a step batches prompts of different lengths.
            var completion = completions[(clientIndex + r) % completions.Count];
            long sent = Stopwatch.GetTimestamp(), previous = sent;
            bool isFirst = true;
            await foreach (int numTokens in client.StreamAsync(completion, cancellationToken))
            {
                long now = Stopwatch.GetTimestamp();
                (isFirst ? log.TimeToFirstTokenMs : log.InterTokenMs).Add(Stopwatch.GetElapsedTime(previous, now).TotalMilliseconds);
                previous = now;
                isFirst = false;
                log.NumTokens += numTokens;
            }
        }
        return log;
    }
}
