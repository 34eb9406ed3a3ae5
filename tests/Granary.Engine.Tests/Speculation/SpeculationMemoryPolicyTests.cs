using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Speculation;
using Granary.Engine.Tests.Generation;
using Granary.Model.KvCache;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.Speculation;

/// <summary>
/// SpecMemo in the scheduler: draft caches and speculative positions are planned inside the KV and token
/// budgets; when those are tight k shrinks, to plain decoding if need be, and draft caches make way for
/// waiting requests. No request is ever refused or evicted because of speculation.
/// </summary>
public sealed class SpeculationMemoryPolicyTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    const int PromptLength = 4, MaxTokens = 12, Reservation = PromptLength + MaxTokens; // target KV positions per request
    const double DraftRatio = 0.25; // a draft position costs a quarter of a target one: 4 per request

    readonly List<SequenceKvCache> _caches = [];
    long _nextId;

    Scheduler NewScheduler(long kvBudget, int maxBatchedTokens = 2048, int k = 4) =>
        new(new SchedulerOptions { KvCacheTokenBudget = kvBudget, MaxNumBatchedTokens = maxBatchedTokens, MaxNumRunningSequences = 8 },
            NewCache, new SpeculationPlanner(NewCache, DraftRatio, new SpeculationController(k, isAdaptive: false)));

    SequenceKvCache NewCache(int capacity)
    {
        var cache = new SequenceKvCache(1, 1, 4, capacity, ScalarType.Float32, CPU);
        _caches.Add(cache);
        return cache;
    }

    Sequence Submit(Scheduler scheduler, int maxTokens = MaxTokens)
    {
        var request = new GenerationRequest([1, 2, 3, 4], new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true });
        var sequence = new Sequence(_nextId++, request, PromptLength + maxTokens, fixture.Loaded.Tokenizer, new HashSet<int>());
        scheduler.Add(sequence);
        return sequence;
    }

    // Plays a step without a model: caches advance by what the target would be fed, sequences take token 7
    // (speculating ones accept nothing, so their caches roll back to one past their context).
    static IReadOnlyList<ScheduledChunk> Step(Scheduler scheduler)
    {
        var plan = scheduler.Schedule();
        foreach (var chunk in plan)
        {
            ((SequenceKvCache)chunk.Sequence.Cache!).Advance(chunk.TokenIds.Count);
            if (chunk.SamplesNextToken) chunk.Sequence.Append(7);
        }
        return plan;
    }

    [Fact]
    public void With_room_decodes_speculate_and_draft_caches_are_charged_to_the_kv_budget()
    {
        var scheduler = NewScheduler(kvBudget: 1000);
        Submit(scheduler);
        Submit(scheduler);
        Step(scheduler); // prefill
        var plan = scheduler.Schedule();
        Assert.All(plan, c => Assert.Equal(4, c.NumSpeculativeTokens));
        Assert.Equal(2 * Reservation * DraftRatio, scheduler.NumDraftKvTokensReserved);
        Assert.Equal(2 * Reservation * (1 + DraftRatio), scheduler.NumKvTokensReserved);
    }

    [Fact]
    public void When_kv_is_tight_k_falls_to_plain_decoding_and_nothing_is_refused()
    {
        var scheduler = NewScheduler(kvBudget: 2 * Reservation + 4); // room for both requests and one draft cache
        var first = Submit(scheduler);
        var second = Submit(scheduler);
        Step(scheduler);
        var plan = scheduler.Schedule();
        Assert.Equal(2, plan.Count);
        Assert.Equal(4, plan.Single(c => c.Sequence == first).NumSpeculativeTokens);
        Assert.Equal(0, plan.Single(c => c.Sequence == second).NumSpeculativeTokens); // decodes plainly
        Assert.Null(second.Speculation);
        Assert.True(scheduler.NumKvTokensReserved <= 2 * Reservation + 4);
    }

    [Fact]
    public void A_waiting_request_takes_kv_back_from_draft_caches()
    {
        var scheduler = NewScheduler(kvBudget: 3 * Reservation);
        var first = Submit(scheduler);
        var second = Submit(scheduler);
        Step(scheduler);
        Step(scheduler); // both now speculate, holding 2 draft caches (8 positions)
        Assert.NotNull(first.Speculation);
        Assert.NotNull(second.Speculation);

        var late = Submit(scheduler); // fits only if a draft cache goes
        var plan = scheduler.Schedule();
        Assert.Contains(plan, c => c.Sequence == late);
        Assert.True(scheduler.NumKvTokensReserved <= 3 * Reservation);
        Assert.Equal(3, scheduler.NumRunning);
        Assert.Contains(new[] { first, second }, s => s.Speculation is null); // gave up its draft, kept running
        Assert.False(first.IsFinished || first.IsCancelled || second.IsFinished || second.IsCancelled);
    }

    [Fact]
    public void Speculative_positions_only_use_the_token_budget_left_after_decodes_and_prompts()
    {
        var scheduler = NewScheduler(kvBudget: 1000, maxBatchedTokens: 8);
        for (int i = 0; i < 3; i++) Submit(scheduler);
        Step(scheduler);
        Step(scheduler);
        var plan = scheduler.Schedule();
        Assert.Equal(8, plan.Sum(c => c.NumTargetTokens)); // 3 decodes + 5 speculative positions
        Assert.Equal([4, 1, 0], plan.Select(c => c.NumSpeculativeTokens));
    }

    [Fact]
    public void k_never_runs_past_max_tokens()
    {
        var scheduler = NewScheduler(kvBudget: 1000);
        var sequence = Submit(scheduler, maxTokens: 3);
        Step(scheduler); // 1 token out, 2 to go: at most 1 proposal plus the target's own token
        Assert.Equal(1, scheduler.Schedule().Single().NumSpeculativeTokens);
        Assert.Equal(2, sequence.NumRemainingTokens);
    }
}
