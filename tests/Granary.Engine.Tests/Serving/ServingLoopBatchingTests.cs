using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
using Granary.Engine.Tests.Generation;
using static Granary.Engine.Tests.Serving.ServingHarness;

namespace Granary.Engine.Tests.Serving;

/// <summary>Continuous batching through the loop: who runs in which step, and that batching never changes tokens.</summary>
public sealed class ServingLoopBatchingTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    GenerationRequest Request(string prompt, int maxTokens) => fixture.GreedyRequest(prompt, maxTokens);

    // NOTE: solo runs happen before a loop starts stepping: the loop thread and the test never share the model at once.
    IReadOnlyList<int> Solo(GenerationRequest request) => fixture.SoloTokens(request);

    [Fact]
    public async Task A_request_submitted_while_another_decodes_joins_the_running_batch_at_the_next_step()
    {
        var first = Request("def fibonacci(n):", maxTokens: 30);
        var late = Request("import os\nimport sys", maxTokens: 3);
        var (firstSolo, lateSolo) = (Solo(first), Solo(late));
        using var harness = new ServingHarness(fixture.Loaded);

        var held = harness.HoldAfter(step => step.Sampled.Any(t => t.NumOutputTokens == 2));
        var a = await harness.Loop.SubmitAsync(first);
        var heldStep = await held.Reached;
        var submitting = harness.Loop.SubmitAsync(late); // posted while the loop is held after A's second token
        held.Release();
        var b = await submitting;
        var bChunks = await ReadAll(b);
        var aChunks = await ReadAll(a);

        var joinStep = harness.Steps.First(s => s.Plan.Any(c => c.SequenceId == b.Id));
        Assert.Equal(heldStep.Index + 1, joinStep.Index);
        Assert.Contains(joinStep.Sampled, t => t.SequenceId == b.Id && t.NumOutputTokens == 1);
        Assert.Contains(joinStep.Sampled, t => t.SequenceId == a.Id && t.NumOutputTokens == 3 && !t.IsFinished);
        Assert.Equal(lateSolo, Tokens(bChunks));
        Assert.Equal(firstSolo, Tokens(aChunks));
        Assert.Equal(FinishReason.Length, aChunks[^1].FinishReason);
    }

    [Fact]
    public async Task Concurrent_greedy_requests_of_different_lengths_each_get_their_solo_tokens()
    {
        var requests = new[]
        {
            Request("def fibonacci(n):", maxTokens: 3),
            Request("The quick brown fox jumps over the lazy dog, and then", maxTokens: 17),
            Request("x", maxTokens: 8),
            Request("import os\nimport sys\n\nclass Config:\n    def __init__(self):", maxTokens: 25),
            Request("Once upon a time", maxTokens: 1),
        };
        var solos = requests.Select(Solo).ToList();
        using var harness = new ServingHarness(fixture.Loaded);

        var streams = await Task.WhenAll(requests.Select(harness.Loop.SubmitAsync));
        var results = await Task.WhenAll(streams.Select(ReadAll));

        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(solos[i], Tokens(results[i]));
            var last = results[i][^1];
            Assert.Equal(FinishReason.Length, last.FinishReason);
            Assert.Equal(requests[i].Sampling.MaxTokens, last.CompletionTokens);
            Assert.Equal(requests[i].PromptTokenIds.Count, last.PromptTokens);
            Assert.All(results[i].SkipLast(1), c => Assert.Null(c.FinishReason));
        }
        Assert.True(solos.Select(s => string.Join(",", s)).Distinct().Count() > 1, "prompts should not all give the same tokens");
    }

    [Fact]
    public async Task Finished_sequences_leave_at_once_while_the_others_get_a_token_every_step()
    {
        var requests = new[] { Request("short", maxTokens: 2), Request("middle", maxTokens: 5), Request("long", maxTokens: 9) };
        using var harness = new ServingHarness(fixture.Loaded);

        var streams = await Task.WhenAll(requests.Select(harness.Loop.SubmitAsync));
        await Task.WhenAll(streams.Select(ReadAll));

        var steps = harness.Steps;
        foreach (var stream in streams)
        {
            var sampledIn = steps.Where(s => s.Sampled.Any(t => t.SequenceId == stream.Id)).Select(s => s.Index).ToList();
            int first = sampledIn[0], finished = sampledIn[^1];
            // One token in every step from its first to its last: never stalled by the others joining or leaving.
            Assert.Equal(Enumerable.Range(first, finished - first + 1), sampledIn);
            Assert.DoesNotContain(steps.Skip(finished + 1), s => s.Plan.Any(c => c.SequenceId == stream.Id));
        }
        // The last chunk is written after the loop has dropped its sequence, so the load is already empty.
        Assert.Equal(new ServingLoad(0, 0, 0), harness.Loop.Load);
    }

    [Fact]
    public async Task A_long_prompt_is_prefilled_in_chunks_while_a_running_decode_gets_a_token_every_step()
    {
        const int budget = 8;
        var running = Request("a", maxTokens: 40);
        var longPrompt = Request(string.Join(" ", Enumerable.Range(0, 16).Select(i => $"word{i}")), maxTokens: 3);
        Assert.True(longPrompt.PromptTokenIds.Count >= 3 * budget, $"the prompt should need several chunks ({longPrompt.PromptTokenIds.Count} tokens)");
        var (runningSolo, longSolo) = (Solo(running), Solo(longPrompt));
        using var harness = new ServingHarness(fixture.Loaded, new SchedulerOptions { MaxNumBatchedTokens = budget, MaxNumRunningSequences = 4 });

        var held = harness.HoldAfter(step => step.Sampled.Any(t => t.NumOutputTokens == 1));
        var a = await harness.Loop.SubmitAsync(running);
        await held.Reached;
        var submitting = harness.Loop.SubmitAsync(longPrompt);
        held.Release();
        var slow = await submitting;
        var slowChunks = await ReadAll(slow);
        var aChunks = await ReadAll(a);

        // The steps that ran the prompt: each one with a chunk of it, up to the one that sampled its first token.
        int firstTokenStep = harness.Steps.First(s => s.Sampled.Any(t => t.SequenceId == slow.Id)).Index;
        var prefillSteps = harness.Steps.Take(firstTokenStep + 1).Where(s => s.Plan.Any(c => c.SequenceId == slow.Id)).ToList();
        Assert.True(prefillSteps.Count >= 3, $"the prompt took {prefillSteps.Count} steps; expected several chunks");
        Assert.Equal(longPrompt.PromptTokenIds.Count, prefillSteps.Sum(s => s.Plan.Single(c => c.SequenceId == slow.Id).NumTokens));
        foreach (var step in prefillSteps)
        {
            Assert.True(step.NumTokens <= budget, $"step {step.Index} took {step.NumTokens} tokens, over the budget of {budget}");
            Assert.Contains(step.Plan, c => c.SequenceId == a.Id && c.NumTokens == 1);
            Assert.Contains(step.Sampled, t => t.SequenceId == a.Id);
        }
        Assert.Equal(longSolo, Tokens(slowChunks));
        Assert.Equal(runningSolo, Tokens(aChunks));
    }
}
