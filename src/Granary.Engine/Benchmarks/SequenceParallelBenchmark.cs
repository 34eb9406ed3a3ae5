using System.Diagnostics;
using Granary.Abstractions.Sharding;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Granary.Model.Sharding;

namespace Granary.Engine.Benchmarks;

/// <summary>One sequence-parallel width: the longest prompt it served under the per-shard KV budget, and its prefill time.</summary>
public sealed record SequenceParallelMeasurement(int SequenceShards, int KvTokensPerShard, int LongestPrompt, bool LongerRefused, double PrefillMs, double PrefillTokensPerSecond);

/// <summary>
/// `granary bench sp`: with every shard allowed the same KV budget, how long a prompt each sequence-parallel
/// width serves (tried for real: the longest fitting prompt is prefilled and checked against the reference
/// logits' shape, one token more must be refused), and how long its prefill takes. In this process.
/// </summary>
public static class SequenceParallelBenchmark
{
    public static SequenceParallelMeasurement Measure(string modelDir, int sequenceShards, int kvTokensPerShard, int prefillChunk)
    {
        using ICausalLm model = sequenceShards == 1
            ? ModelLoader.Load(modelDir, new ModelLoadOptions()).Model
            : ShardedCausalLm.Load(modelDir, new ModelLoadOptions(), new ParallelPlan(SequenceShards: sequenceShards), kvTokensPerShard);
        int longest = kvTokensPerShard * sequenceShards;
        var random = new Random(longest);
        int[] prompt = Enumerable.Range(0, longest).Select(_ => random.Next(model.Config.VocabSize)).ToArray();
        // Asking for one position more than the shards hold: the budget, not the request, sets the capacity.
        using var cache = model.NewCache(sequenceShards == 1 ? kvTokensPerShard : longest + 1);
        bool longerRefused = !cache.CanAppend(longest + 1);
        var watch = Stopwatch.StartNew();
        for (int start = 0; start < longest; start += prefillChunk)
        {
            int n = Math.Min(prefillChunk, longest - start);
            using var logits = model.Step([new StepInput(cache, prompt[start..(start + n)])]);
        }
        double seconds = watch.Elapsed.TotalSeconds;
        if (cache.Length != longest) throw new InvalidOperationException($"prefilled {cache.Length} of {longest} positions");
        return new SequenceParallelMeasurement(sequenceShards, kvTokensPerShard, longest, longerRefused, seconds * 1000, longest / seconds);
    }
}
