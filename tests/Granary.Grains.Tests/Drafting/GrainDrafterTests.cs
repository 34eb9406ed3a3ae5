using Granary.Grains.Drafting;

namespace Granary.Grains.Tests.Drafting;

/// <summary>The router's side of a draft grain, against a recording stand-in for the grain.</summary>
public sealed class GrainDrafterTests
{
    static readonly DraftReport Report = new("d#g1#draft#x", "x", HasOwnSlot: true, VocabSize: 16, MaxPositionEmbeddings: 64, ParameterBytes: 0, KvBytesPerPosition: 8, NumSequences: 0);

    [Fact]
    public void Freed_draft_caches_reach_the_grain_even_when_no_step_speculates()
    {
        var grain = new RecordingDraftGrain();
        var drafter = new GrainDrafter(grain, Report);
        var caches = Enumerable.Range(0, GrainDrafter.MaxPendingReleases).Select(_ => drafter.NewCache(10)).ToList();
        foreach (var cache in caches.SkipLast(1)) cache.Dispose();
        Assert.Empty(grain.Requests); // they wait for the next step's call

        caches[^1].Dispose();
        var request = Assert.Single(grain.Requests);
        Assert.Empty(request.Rows);
        Assert.Equal(GrainDrafter.MaxPendingReleases, request.ReleasedSequences.Distinct().Count());
    }

    [Fact]
    public void Draft_caches_get_distinct_ids_and_mirror_nothing_until_a_step()
    {
        var drafter = new GrainDrafter(new RecordingDraftGrain(), Report);
        var a = drafter.NewCache(10);
        var b = drafter.NewCache(20);
        Assert.Equal((0, 10), (a.Length, a.Capacity));
        Assert.Equal(20, b.Capacity);
        Assert.NotEqual(((Granary.Grains.Sharding.RemoteKvCache)a).SequenceId, ((Granary.Grains.Sharding.RemoteKvCache)b).SequenceId);
    }

    sealed class RecordingDraftGrain : IDraftGrain
    {
        public List<DraftStepRequest> Requests { get; } = [];

        public Task<DraftReport> Load(DraftAssignment assignment) => Task.FromResult(Report);

        public Task<DraftStepResult> Propose(DraftStepRequest request)
        {
            Requests.Add(request);
            return Task.FromResult(new DraftStepResult(request.Rows.Select(r => new DraftRowResult(new int[r.NumTokens], null)).ToArray(), 0));
        }

        public Task<DraftReport> Describe() => Task.FromResult(Report);

        public Task Unload() => Task.CompletedTask;
    }
}
