using System.Diagnostics;
using Granary.Engine.KvReuse;
using Granary.Model.Runtime;

namespace Granary.Engine.Benchmarks;

/// <summary>Seconds to get a context's KV into a fresh cache: computed again, or copied back from host RAM or from the cxl tier.</summary>
public sealed record RestoreMeasurement(int ContextTokens, double ReprefillSeconds, double HostSeconds, double CxlSeconds)
{
    public double HostSpeedup => ReprefillSeconds / HostSeconds;

    public double CxlSpeedup => ReprefillSeconds / CxlSeconds;
}

/// <summary>
/// Times a restore the way a returning program gets one: match its blocks, copy them into its new cache,
/// bring them back to the device tier (medians over repeats, after one warm-up each).
/// </summary>
public static class RestoreBenchmark
{
    public static RestoreMeasurement Measure(CausalLm model, int contextTokens, string cxlFolder, int blockSize = 16, int repeats = 5)
    {
        if (contextTokens + 1 > model.Config.MaxPositionEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(contextTokens), $"a {contextTokens}-token context does not fit the model's {model.Config.MaxPositionEmbeddings} positions");
        int[] tokens = Enumerable.Range(0, contextTokens + 1).Select(i => 1 + (i * 7919) % (model.Config.VocabSize - 2)).ToArray();
        int numBlocks = contextTokens / blockSize;
        double reprefill = Median(repeats, () =>
        {
            using var cache = model.NewCache(contextTokens + 1);
            long started = Stopwatch.GetTimestamp();
            model.Step([new StepInput(cache, tokens[..contextTokens])]).Dispose();
            return Stopwatch.GetElapsedTime(started).TotalSeconds;
        });
        var options = new KvReuseOptions { BlockSize = blockSize, DeviceCapacityBlocks = numBlocks };
        double host = TimeRestores(model, options with { HostCapacityBlocks = numBlocks }, null, tokens, contextTokens, repeats);
        double cxl = TimeRestores(model, options with { CxlCapacityBlocks = numBlocks }, new CxlMemory(Path: cxlFolder), tokens, contextTokens, repeats);
        return new RestoreMeasurement(contextTokens, reprefill, host, cxl);
    }

    static double TimeRestores(CausalLm model, KvReuseOptions options, CxlMemory? cxl, int[] tokens, int contextTokens, int repeats)
    {
        using var tiers = KvTierSetup.For(model, options, TimeProvider.System, cxl);
        using (var cache = model.NewCache(contextTokens + 1))
        {
            model.Step([new StepInput(cache, tokens[..contextTokens])]).Dispose();
            tiers.Cache.Insert(null, null, tokens, cache);
        }
        return Median(repeats, () =>
        {
            tiers.Cache.FreeDeviceTokens(long.MaxValue, includePinned: true); // everything down to the tier under test
            using var cache = model.NewCache(contextTokens + 1);
            long started = Stopwatch.GetTimestamp();
            var matched = tiers.Cache.Match(null, tokens, contextTokens);
            tiers.Cache.Restore(matched, cache);
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (cache.Length != contextTokens) throw new InvalidOperationException($"restored {cache.Length} of {contextTokens} positions");
            return seconds;
        });
    }

    static double Median(int repeats, Func<double> measure)
    {
        measure(); // warm-up
        var times = Enumerable.Range(0, repeats).Select(_ => measure()).Order().ToArray();
        return times[times.Length / 2];
    }
}
