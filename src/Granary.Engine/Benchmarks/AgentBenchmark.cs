using System.Diagnostics;
using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.KvReuse;
using Granary.Engine.Scheduling;
using Granary.Model.Runtime;
using Granary.Model.Tokenization;

namespace Granary.Engine.Benchmarks;

/// <summary>How one arm keeps KV between turns.</summary>
public enum AgentArm
{
    /// <summary>Every turn prefills its whole prompt (KV is dropped when a turn ends).</summary>
    NoReuse,

    /// <summary>A device prefix cache with LRU eviction and request-level FCFS (vLLM's automatic prefix caching).</summary>
    Lru,

    /// <summary>Granary: TTL pins from predicted tool durations, program-level FCFS, host and cxl tiers below the device.</summary>
    Granary,
}

/// <summary>What one arm did: job completion times (first arrival to last turn's end, in seconds) and the prompt work it computed.</summary>
public sealed record AgentArmResult(AgentArm Arm, IReadOnlyList<double> JobCompletionSeconds, long NumPrefillTokens, long NumCachedPromptTokens,
    IReadOnlyDictionary<string, long> HitsByTier, long NumExpiredPins, double MakespanSeconds)
{
    public double MeanJct => JobCompletionSeconds.Average();

    public double P90Jct => Percentile(JobCompletionSeconds, 0.9);

    static double Percentile(IReadOnlyList<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>
/// Runs one agent workload through the real engine three ways at the same device KV budget. Time is
/// simulated: each engine step advances the clock by its measured cost (real compute, timed as the engine
/// thread's CPU time by <see cref="ThreadCpuClock"/>, so that other processes on a busy machine do not skew
/// one arm against another; tier moves on background threads are not part of a step), and tool pauses
/// advance it without running anything, so a run takes only its compute time while TTLs, the tool-duration
/// predictor and job completion times all see consistent time. Every arm generates the same tokens (greedy,
/// restores are exact), so the arms differ only in what they recompute and when they get to run.
/// </summary>
public static class AgentBenchmark
{
    public static AgentArmResult Run(AgentArm arm, ICausalLm model, TextTokenizer tokenizer, AgentWorkload workload, SchedulerOptions scheduler,
        KvReuseOptions tierOptions, string cxlFolder)
    {
        var clock = new SimulatedClock();
        using var tiers = arm switch
        {
            AgentArm.NoReuse => null,
            AgentArm.Lru => KvTierSetup.For(model, tierOptions with { IsPinning = false, IsProgramFcfs = false, HostCapacityBlocks = 0, CxlCapacityBlocks = 0 }, clock),
            _ => KvTierSetup.For(model, tierOptions, clock, new CxlMemory(Path: cxlFolder)),
        };
        var engine = new InferenceEngine(model, tokenizer, scheduler, kvTiers: tiers);
        var programs = AgentProgramScript.Draw(workload, model.Config.VocabSize);
        var prompts = programs.Select(p => p.FirstPrompt).ToArray();
        var turns = new int[programs.Count];
        var jct = new double[programs.Count];
        var due = new PriorityQueue<int, double>();
        for (int p = 0; p < programs.Count; p++) due.Enqueue(p, programs[p].ArrivalUnits * workload.TimeUnitSeconds);
        var running = new Dictionary<Sequence, int>();
        long prefillTokens = 0, cachedTokens = 0;
        int numDone = 0;
        while (numDone < programs.Count)
        {
            while (due.TryPeek(out int p, out double at) && at <= clock.Seconds)
            {
                due.Dequeue();
                var script = programs[p];
                int turn = turns[p];
                var request = new GenerationRequest(prompts[p], new SamplingParams { Temperature = 0, MaxTokens = workload.OutputTokens, IgnoreEos = true })
                {
                    Tenant = "bench", Program = script.Name, AwaitingTool = turn < script.Tools.Count ? script.Tools[turn] : null,
                };
                running[engine.Submit(request)] = p;
            }
            if (!engine.HasWork)
            {
                if (due.Count == 0) throw new InvalidOperationException($"the {arm} arm stalled with {programs.Count - numDone} programs unfinished and nothing due ({running.Count} tracked)");
                clock.AdvanceTo(due.TryPeek(out _, out double next) ? next : clock.Seconds);
                continue;
            }
            double started = Now(), waitedBefore = WaitSeconds(tiers);
            var updates = engine.Step();
            // A restore blocked on a block's background move is real latency, though no CPU time of this thread.
            clock.Advance(TimeSpan.FromSeconds(Now() - started + WaitSeconds(tiers) - waitedBefore));

            foreach (var sequence in updates.Select(u => u.Sequence).Where(s => s.IsFinished && running.ContainsKey(s)))
            {
                int p = running[sequence];
                running.Remove(sequence);
                prefillTokens += sequence.Request.PromptTokenIds.Count - sequence.NumCachedPromptTokens;
                cachedTokens += sequence.NumCachedPromptTokens;
                var script = programs[p];
                int turn = turns[p]++;
                if (turn == script.Tools.Count)
                {
                    jct[p] = clock.Seconds - script.ArrivalUnits * workload.TimeUnitSeconds;
                    numDone++;
                    continue;
                }
                prompts[p] = [.. prompts[p], .. sequence.OutputTokenIds, .. script.ToolResults[turn]];
                due.Enqueue(p, clock.Seconds + script.PauseUnits[turn] * workload.TimeUnitSeconds);
            }
        }
        engine.Scheduler.RemoveLeavers();
        var hits = KvTierNames.All.ToDictionary(t => t.Label(), t => tiers?.Cache.NumHits(t) ?? 0);
        return new AgentArmResult(arm, jct, prefillTokens, cachedTokens, hits, tiers?.Cache.NumExpiredPins ?? 0, clock.Seconds);
    }

    /// <summary>How steps are timed: the engine thread's CPU time where the OS gives it, else wall time.</summary>
    public static string StepClockName => ThreadCpuClock.Seconds() is null ? "wall time" : "engine-thread CPU time";

    static double WaitSeconds(KvTierManager? tiers) => (tiers?.Cache.Storage as LocalKvBlockStorage)?.WaitSeconds ?? 0;

    static double Now() => ThreadCpuClock.Seconds() ?? Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary>Seconds one prefill of <paramref name="numTokens"/> tokens costs on this machine (median of a few, same clock as the steps): the workload's time unit.</summary>
    public static double MeasurePrefillSeconds(ICausalLm model, int numTokens, int repeats = 3)
    {
        var tokens = Enumerable.Range(0, numTokens).Select(i => 1 + i % (model.Config.VocabSize - 2)).ToArray();
        var times = new List<double>();
        for (int r = 0; r < repeats + 1; r++)
        {
            using var cache = model.NewCache(numTokens);
            double started = Now();
            model.Step([new StepInput(cache, tokens)]).Dispose();
            if (r > 0) times.Add(Now() - started); // the first warms up
        }
        return times.Order().ElementAt(times.Count / 2);
    }
}
