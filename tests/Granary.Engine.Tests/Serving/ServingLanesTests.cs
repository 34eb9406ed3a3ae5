using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
using Granary.Engine.Tests.Generation;
using Granary.Model.Loading;
using static Granary.Engine.Tests.Serving.ServingHarness;

namespace Granary.Engine.Tests.Serving;

/// <summary>
/// Serving lanes: requests spread over the lanes by open requests, each gets the tokens it would get alone, a
/// full lane hands its request to another, and the lanes' budgets add up. (Each lane here has a model of its
/// own; lanes sharing one sharded model are the Grains tests' part.)
/// </summary>
public sealed class ServingLanesTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    GenerationRequest Request(string prompt, int maxTokens) => fixture.GreedyRequest(prompt, maxTokens);

    IReadOnlyList<int> Solo(GenerationRequest request) => fixture.SoloTokens(request);

    // Two lanes with the given limits, each an engine over its own copy of the fixture's model.
    ServingLanes TwoLanes(LoadedModel second, SchedulerOptions first, SchedulerOptions other) =>
        new([new InferenceEngine(fixture.Loaded.Model, fixture.Loaded.Tokenizer, first), new InferenceEngine(second.Model, second.Tokenizer, other)], "test-lanes");

    [Fact]
    public async Task Requests_alternate_over_idle_lanes_and_each_gets_its_solo_tokens()
    {
        using var second = ModelLoader.Load(fixture.Path, new ModelLoadOptions());
        var options = new SchedulerOptions { MaxNumRunningSequences = 8, KvCacheTokenBudget = 1000 };
        using var lanes = TwoLanes(second, options.ShareOf(0, 2), options.ShareOf(1, 2));
        // Long enough that none ends while the burst is submitted: each lane counts a request from its submission.
        var requests = Enumerable.Range(0, 6).Select(i => Request($"prompt number {i}", maxTokens: 40 + i)).ToList();
        var solos = requests.Select(Solo).ToList();

        var streams = await Task.WhenAll(requests.Select(lanes.SubmitAsync));

        // Each engine numbers its own sequences: lane 0 took requests 0, 2, 4 and lane 1 took 1, 3, 5.
        Assert.Equal([0L, 0, 1, 1, 2, 2], streams.Select(s => s.Id).ToArray());
        Assert.Equal(1000, lanes.KvTokenBudget);
        var results = await Task.WhenAll(streams.Select(ReadAll));
        for (int i = 0; i < requests.Count; i++) Assert.Equal(solos[i], Tokens(results[i]));
        await Eventually(() => lanes.Load == new ServingLoad(0, 0, 0), "both lanes are idle");
    }

    [Fact]
    public async Task A_lane_with_a_full_queue_hands_the_request_to_another_and_all_full_refuses()
    {
        using var second = ModelLoader.Load(fixture.Path, new ModelLoadOptions());
        var full = new SchedulerOptions { MaxNumWaiting = 0 };
        var request = Request("handed over", maxTokens: 5);
        var solo = Solo(request);

        using (var lanes = TwoLanes(second, full, new SchedulerOptions()))
        {
            var streams = new List<ServingStream>();
            for (int i = 0; i < 3; i++) streams.Add(await lanes.SubmitAsync(request)); // lane 0 is the idler one each time
            Assert.Equal([0L, 1, 2], streams.Select(s => s.Id).ToArray()); // all in lane 1
            foreach (var stream in streams) Assert.Equal(solo, Tokens(await ReadAll(stream)));
        }
        using (var lanes = TwoLanes(second, full, full with { MaxNumWaiting = 0 }))
        {
            var error = await Assert.ThrowsAsync<QueueFullException>(() => lanes.SubmitAsync(request));
            Assert.Equal(0, error.MaxNumWaiting);
        }
    }
}
