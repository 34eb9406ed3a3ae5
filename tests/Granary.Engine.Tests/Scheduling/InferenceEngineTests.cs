using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Tests.Generation;

namespace Granary.Engine.Tests.Scheduling;

public sealed class InferenceEngineTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    static readonly SamplingParams Greedy = new() { Temperature = 0, MaxTokens = 10, IgnoreEos = true };

    InferenceEngine NewEngine(SchedulerOptions? options = null) =>
        new(fixture.Loaded.Model, fixture.Loaded.Tokenizer, options ?? new SchedulerOptions());

    GenerationRequest Request(string prompt, SamplingParams? sampling = null) =>
        new(fixture.Loaded.Tokenizer.Encode(prompt, addBos: true), sampling ?? Greedy);

    IReadOnlyList<int> Solo(GenerationRequest request) =>
        new BatchGenerator(fixture.Loaded.Model, fixture.Loaded.Tokenizer).Generate([request]).Results[0].TokenIds;

    static void RunToEnd(InferenceEngine engine)
    {
        for (int guard = 0; engine.HasWork; guard++)
        {
            Assert.True(guard < 10_000, "the engine did not finish");
            engine.Step();
        }
    }

    [Fact]
    public void A_request_arriving_mid_decode_joins_the_next_step_and_gets_its_solo_tokens()
    {
        var engine = NewEngine();
        var first = engine.Submit(Request("def fibonacci(n):"));
        engine.Step();
        engine.Step();
        Assert.Equal(2, first.OutputTokenIds.Count);

        var late = engine.Submit(Request("import os\nimport sys"));
        var updates = engine.Step();
        Assert.Contains(updates, u => u.Sequence == late);   // prefilled and sampled its first token in this step
        Assert.Contains(updates, u => u.Sequence == first);  // while the first kept decoding
        Assert.Equal(3, first.OutputTokenIds.Count);
        RunToEnd(engine);

        Assert.Equal(Solo(Request("def fibonacci(n):")), first.OutputTokenIds);
        Assert.Equal(Solo(Request("import os\nimport sys")), late.OutputTokenIds);
    }

    [Fact]
    public void A_long_prompt_is_prefilled_in_chunks_while_running_sequences_keep_decoding()
    {
        var engine = NewEngine(new SchedulerOptions { MaxNumBatchedTokens = 8, MaxNumRunningSequences = 4 });
        var a = engine.Submit(Request("a", Greedy with { MaxTokens = 30 }));
        var b = engine.Submit(Request("b", Greedy with { MaxTokens = 30 }));
        engine.Step(); // both short prompts prefill together
        string longPrompt = string.Join(" ", Enumerable.Range(0, 12).Select(i => $"word{i}"));
        var longRequest = Request(longPrompt);
        var slow = engine.Submit(longRequest);
        int steps = 0;
        while (slow.OutputTokenIds.Count == 0)
        {
            int before = a.OutputTokenIds.Count;
            var chunks = engine.Scheduler.Schedule();
            Assert.True(chunks.Sum(c => c.TokenIds.Count) <= 8, "a step took more tokens than its budget");
            Assert.Contains(chunks, c => c.Sequence == a && c.TokenIds.Count == 1);
            Assert.Contains(chunks, c => c.Sequence == b && c.TokenIds.Count == 1);
            engine.StepPlanned(chunks); // exactly what Step() would have run
            Assert.Equal(before + 1, a.OutputTokenIds.Count); // never starved by the prefill
            steps++;
        }
        Assert.True(steps >= longRequest.PromptTokenIds.Count / 6, $"the prompt should take several chunks, took {steps} steps");
        RunToEnd(engine);
        Assert.Equal(Solo(longRequest), slow.OutputTokenIds);
    }

    [Fact]
    public void Finished_sequences_leave_and_free_their_kv_without_stalling_the_rest()
    {
        var engine = NewEngine();
        var shortOne = engine.Submit(Request("short", Greedy with { MaxTokens = 2 }));
        var longOne = engine.Submit(Request("long", Greedy with { MaxTokens = 6 }));
        engine.Step();
        engine.Step();
        Assert.True(shortOne.IsFinished);
        long reservedBoth = engine.Scheduler.NumKvTokensReserved;
        engine.Step();
        Assert.Equal(1, engine.Scheduler.NumRunning);
        Assert.Equal(reservedBoth - shortOne.MaxTotalTokens, engine.Scheduler.NumKvTokensReserved);
        RunToEnd(engine);
        Assert.Equal(6, longOne.OutputTokenIds.Count);
        Assert.Equal(0, engine.Scheduler.NumKvTokensReserved);
    }

    [Fact]
    public void Admission_waits_for_kv_budget_and_is_first_come_first_served()
    {
        var probe = Request("same length", Greedy with { MaxTokens = 4 });
        int need = probe.PromptTokenIds.Count + 4;
        var engine = NewEngine(new SchedulerOptions { KvCacheTokenBudget = need * 2 });
        var s1 = engine.Submit(probe);
        var s2 = engine.Submit(probe);
        var s3 = engine.Submit(probe);
        engine.Step();
        Assert.Equal(2, engine.Scheduler.NumRunning);
        Assert.Equal(1, engine.Scheduler.NumWaiting);
        Assert.Empty(s3.OutputTokenIds);
        RunToEnd(engine);
        Assert.Equal(s1.OutputTokenIds, s3.OutputTokenIds);
        Assert.Equal(s1.OutputTokenIds, s2.OutputTokenIds);
    }

    [Fact]
    public void A_request_larger_than_the_whole_kv_budget_is_refused_at_submission()
    {
        var engine = NewEngine(new SchedulerOptions { KvCacheTokenBudget = 8 });
        var error = Assert.Throws<GranaryUserError>(() => engine.Submit(Request("a prompt", Greedy with { MaxTokens = 20 })));
        Assert.Contains("KV budget is 8", error.Message);
        Assert.False(engine.HasWork);
    }

    [Fact]
    public void A_full_queue_refuses_new_requests()
    {
        var engine = NewEngine(new SchedulerOptions { MaxNumWaiting = 2 });
        engine.Submit(Request("one"));
        engine.Submit(Request("two"));
        Assert.Throws<QueueFullException>(() => engine.Submit(Request("three")));
        engine.Step(); // both admitted: the queue has room again
        engine.Submit(Request("three"));
    }

    [Fact]
    public void The_running_set_never_exceeds_its_limit()
    {
        var engine = NewEngine(new SchedulerOptions { MaxNumRunningSequences = 2, MaxNumBatchedTokens = 64 });
        var sequences = Enumerable.Range(0, 5).Select(i => engine.Submit(Request($"prompt {i}", Greedy with { MaxTokens = 3 }))).ToList();
        while (engine.HasWork)
        {
            engine.Step();
            Assert.True(engine.Scheduler.NumRunning <= 2);
        }
        Assert.All(sequences, s => Assert.Equal(3, s.OutputTokenIds.Count));
    }

    [Fact]
    public void A_cancelled_sequence_leaves_at_the_next_step_and_frees_its_kv()
    {
        var engine = NewEngine();
        var kept = engine.Submit(Request("kept"));
        var cancelled = engine.Submit(Request("cancelled"));
        engine.Step();
        engine.Cancel(cancelled);
        var updates = engine.Step();
        Assert.DoesNotContain(updates, u => u.Sequence == cancelled);
        Assert.Equal(1, engine.Scheduler.NumRunning);
        Assert.Equal(kept.MaxTotalTokens, engine.Scheduler.NumKvTokensReserved);
        RunToEnd(engine);
        Assert.Equal(Solo(Request("kept")), kept.OutputTokenIds);
        Assert.Single(cancelled.OutputTokenIds);
    }
}
