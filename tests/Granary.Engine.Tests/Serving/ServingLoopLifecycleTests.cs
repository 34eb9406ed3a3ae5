using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
using Granary.Engine.Tests.Generation;
using static Granary.Engine.Tests.Serving.ServingHarness;

namespace Granary.Engine.Tests.Serving;

/// <summary>Refusals, cancellation and shutdown: every path frees its KV and leaves the loop serving (or ends cleanly).</summary>
public sealed class ServingLoopLifecycleTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    static readonly SamplingParams Greedy = new() { Temperature = 0, IgnoreEos = true };
    static readonly ServingLoad Idle = new(0, 0, 0);

    GenerationRequest Request(string prompt, int maxTokens) => fixture.GreedyRequest(prompt, maxTokens);

    IReadOnlyList<int> Solo(GenerationRequest request) => fixture.SoloTokens(request);

    [Fact]
    public async Task A_full_queue_refuses_with_QueueFullException_and_the_loop_keeps_serving()
    {
        var request = Request("queued", maxTokens: 4);
        var solo = Solo(request);
        using var harness = new ServingHarness(fixture.Loaded, new SchedulerOptions { MaxNumRunningSequences = 1, MaxNumWaiting = 1 });

        var held = harness.HoldAfter(step => step.Sampled.Count > 0);
        var running = await harness.Loop.SubmitAsync(request);
        await held.Reached;
        var waiting = harness.Loop.SubmitAsync(request);  // takes the only waiting slot
        var refused = harness.Loop.SubmitAsync(request);
        held.Release();

        var error = await Assert.ThrowsAsync<QueueFullException>(() => refused);
        Assert.Equal(1, error.MaxNumWaiting);
        Assert.Equal(solo, Tokens(await ReadAll(running)));
        Assert.Equal(solo, Tokens(await ReadAll(await waiting)));
        Assert.Equal(solo, Tokens(await ReadAll(await harness.Loop.SubmitAsync(request))));
        await NoneOpen(harness.Loop); // the refused one was never counted as open
    }

    // Lanes balance on this count: every way a request ends (finished, cancelled, refused, failed) must end its count.
    static Task NoneOpen(ServingLoop loop) => Eventually(() => loop.NumOpenRequests == 0, "no request is open");

    public static TheoryData<string> BadRequests => ["empty prompt", "token id past the vocabulary", "negative token id",
        "prompt as long as the context", "negative temperature", "zero max_tokens", "negative top_logprobs", "more KV than the budget"];

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_input_is_refused_with_GranaryUserError_and_the_loop_keeps_serving(string problem)
    {
        int vocab = fixture.Loaded.Config.VocabSize, context = fixture.Loaded.Config.MaxPositionEmbeddings;
        var good = Request("fine", maxTokens: 3);
        var (bad, mentions) = problem switch
        {
            "empty prompt" => (good with { PromptTokenIds = [] }, "empty"),
            "token id past the vocabulary" => (good with { PromptTokenIds = [1, vocab] }, $"{vocab}"),
            "negative token id" => (good with { PromptTokenIds = [1, -5] }, "-5"),
            "prompt as long as the context" => (good with { PromptTokenIds = Enumerable.Repeat(65, context).ToArray() }, "max_position_embeddings"),
            "negative temperature" => (good with { Sampling = Greedy with { Temperature = -1 } }, "temperature"),
            "zero max_tokens" => (good with { Sampling = Greedy with { MaxTokens = 0 } }, "max_tokens"),
            "negative top_logprobs" => (good with { TopLogprobs = -1 }, "top_logprobs"),
            "more KV than the budget" => (good with { Sampling = Greedy with { MaxTokens = 100 } }, "KV budget"),
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };
        using var harness = new ServingHarness(fixture.Loaded, new SchedulerOptions { KvCacheTokenBudget = 64 });

        var error = await Assert.ThrowsAsync<GranaryUserError>(() => harness.Loop.SubmitAsync(bad));
        Assert.Contains(mentions, error.Message);
        var served = await ReadAll(await harness.Loop.SubmitAsync(good));
        Assert.Equal(FinishReason.Length, served[^1].FinishReason);
        Assert.Equal(Idle, harness.Loop.Load);
    }

    [Fact]
    public async Task Cancelling_a_stream_frees_its_kv_at_once_and_the_loop_keeps_serving()
    {
        var request = Request("to be cancelled", maxTokens: 60);
        var next = Request("next", maxTokens: 4);
        var nextSolo = Solo(next);
        using var harness = new ServingHarness(fixture.Loaded);

        var held = harness.HoldAfter(step => step.Sampled.Any(t => t.NumOutputTokens == 2));
        var stream = await harness.Loop.SubmitAsync(request);
        await held.Reached;
        stream.Cancel(); // runs before the next step
        held.Release();

        var chunks = await ReadAll(stream);
        Assert.Equal(2, chunks.Count);
        Assert.All(chunks, c => Assert.False(c.IsLast));
        Assert.Equal(Idle, harness.Loop.Load);
        Assert.Equal(0, harness.Loop.NumOpenRequests);
        Assert.Equal(nextSolo, Tokens(await ReadAll(await harness.Loop.SubmitAsync(next))));
        await NoneOpen(harness.Loop);
    }

    [Fact]
    public async Task Cancelling_the_read_token_frees_the_kv_and_the_loop_keeps_serving()
    {
        var next = Request("next", maxTokens: 4);
        var nextSolo = Solo(next);
        using var harness = new ServingHarness(fixture.Loaded);
        var stream = await harness.Loop.SubmitAsync(Request("to be cancelled", maxTokens: 100));
        using var cancellation = new CancellationTokenSource();

        int numRead = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in stream.ReadAllAsync(cancellation.Token).WithTimeout(TestTimeout))
                if (++numRead == 2) cancellation.Cancel();
        });

        Assert.Equal(2, numRead);
        await Eventually(() => harness.Loop.Load == Idle, "the cancelled sequence frees its KV");
        Assert.Equal(nextSolo, Tokens(await ReadAll(await harness.Loop.SubmitAsync(next))));
    }

    [Fact]
    public async Task Dispose_ends_open_streams_with_an_unavailable_error_without_hanging()
    {
        var harness = new ServingHarness(fixture.Loaded, new SchedulerOptions { MaxNumRunningSequences = 1 });
        var firstStep = harness.HoldAfter(step => step.Sampled.Count > 0);
        var running = await harness.Loop.SubmitAsync(Request("running", maxTokens: 100));
        await firstStep.Reached;
        var submitting = harness.Loop.SubmitAsync(Request("waiting", maxTokens: 100)); // queued behind the only running slot
        var held = harness.HoldAfter(step => step.Sampled.Any(t => t.NumOutputTokens == 2));
        firstStep.Release();
        var waiting = await submitting;
        await held.Reached;

        var disposing = Task.Run(harness.Dispose);
        // Not an assertion: gives Dispose time to start waiting on the held thread (both requests are far from done anyway).
        await Task.Delay(50);
        held.Release();
        await disposing.WaitAsync(TestTimeout);

        foreach (var stream in new[] { running, waiting })
        {
            var chunks = await ReadAll(stream);
            Assert.Equal(ServingErrorKind.Unavailable, chunks[^1].Error?.Kind);
            Assert.Null(chunks[^1].FinishReason);
            Assert.All(chunks.SkipLast(1), c => Assert.Null(c.Error));
        }
        Assert.Equal(0, harness.Loop.NumOpenRequests);
    }

    [Fact]
    public async Task After_dispose_submissions_fail_and_cancellations_are_harmless()
    {
        var harness = new ServingHarness(fixture.Loaded);
        var unread = await harness.Loop.SubmitAsync(Request("unread", maxTokens: 60));
        harness.Dispose();

        unread.Cancel(); // its error chunk is unread, so this still posts a cancellation to the closed loop
        var submitted = harness.Loop.SubmitAsync(Request("too late", maxTokens: 2));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => submitted.WaitAsync(TestTimeout));
        Assert.Equal(ServingErrorKind.Unavailable, (await ReadAll(unread))[^1].Error?.Kind);
        Assert.Equal(0, harness.Loop.NumOpenRequests);
    }

    [Fact]
    public async Task Submissions_racing_dispose_all_complete()
    {
        var harness = new ServingHarness(fixture.Loaded);
        var request = Request("race", maxTokens: 20);
        var submissions = Enumerable.Range(0, 64)
            .Select(i => Task.Run(async () =>
            {
                if (i == 16) harness.Dispose();
                try
                {
                    var chunks = await ReadAll(await harness.Loop.SubmitAsync(request));
                    return chunks[^1].FinishReason is not null || chunks[^1].Error?.Kind == ServingErrorKind.Unavailable;
                }
                catch (ObjectDisposedException)
                {
                    return true;
                }
            }))
            .ToList();

        var outcomes = await Task.WhenAll(submissions).WaitAsync(TestTimeout);
        Assert.All(outcomes, Assert.True);
    }
}
