using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Granary.Engine.Serving;

namespace Granary.Engine.KvReuse;

/// <summary>
/// The KV tier's instruments, on the engine's meter (<see cref="StepMetrics.MeterName"/>): sizes per tier are
/// observed from every live <see cref="PrefixCache"/>; hits, expiries and restore times are counted as they
/// happen. Names with <c>vllm_</c> are exported as <c>vllm:</c> by the server.
/// </summary>
public static class KvTierMetrics
{
    static readonly Meter Meter = new(StepMetrics.MeterName);
    static readonly ConcurrentDictionary<PrefixCache, byte> Caches = new();

    static readonly double[] RestoreBuckets = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1];

    static readonly Counter<long> Hits = Meter.CreateCounter<long>("granary_kv_tier_hits", unit: null,
        "KV blocks a request reused, by the tier they were on");

    static readonly Counter<long> Expired = Meter.CreateCounter<long>("granary_kv_ttl_expired", unit: null,
        "Program pins whose TTL ran out before the program came back");

    static readonly Histogram<double> Restore = Meter.CreateHistogram("granary_kv_restore_seconds", "s",
        "Time to copy a request's reused KV blocks from one tier into its cache",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = RestoreBuckets });

    static readonly Counter<long> Queries = Meter.CreateCounter<long>("vllm_prefix_cache_queries", unit: null,
        "Prompt tokens looked up in the prefix cache");

    static readonly Counter<long> QueryHits = Meter.CreateCounter<long>("vllm_prefix_cache_hits", unit: null,
        "Prompt tokens found in the prefix cache");

    static KvTierMetrics()
    {
        Meter.CreateObservableGauge("granary_kv_tier_bytes", () => PerTier(c => t => c.NumBytes(t)), unit: null, "Bytes of cached KV blocks per tier");
        Meter.CreateObservableGauge("granary_kv_tier_blocks", () => PerTier(c => t => c.NumBlocks(t)), unit: null, "Cached KV blocks per tier");
    }

    static IEnumerable<Measurement<long>> PerTier(Func<PrefixCache, Func<KvTier, long>> read) =>
        KvTierNames.All.Select(tier => new Measurement<long>(
            Caches.Keys.Sum(cache => read(cache)(tier)), new KeyValuePair<string, object?>("tier", tier.Label())));

    internal static void Track(PrefixCache cache) => Caches[cache] = 0;

    internal static void Untrack(PrefixCache cache) => Caches.TryRemove(cache, out _);

    internal static void RecordQuery(long numTokens, long numHitTokens)
    {
        Queries.Add(numTokens);
        QueryHits.Add(numHitTokens);
    }

    /// <summary>One restore drew <paramref name="numBlocks"/> blocks from <paramref name="tier"/> in <paramref name="seconds"/>.</summary>
    internal static void RecordRestore(KvTier tier, int numBlocks, double seconds)
    {
        var label = new KeyValuePair<string, object?>("tier", tier.Label());
        Hits.Add(numBlocks, label);
        Restore.Record(seconds, label);
    }

    internal static void RecordExpired(int numPins)
    {
        if (numPins > 0) Expired.Add(numPins);
    }
}
