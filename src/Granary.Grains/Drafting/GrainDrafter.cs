using System.Collections.Concurrent;
using Granary.Engine.Generation;
using Granary.Engine.Speculation;
using Granary.Grains.Sharding;
using Granary.Model.KvCache;
using Granary.Model.Runtime;
using static TorchSharp.torch;

namespace Granary.Grains.Drafting;

/// <summary>
/// The engine's drafter when the draft lives on a <see cref="IDraftGrain"/>: one grain call per speculative
/// step carries every speculating sequence (its cache length after rollbacks, the context the draft has not
/// seen, k, and for a sampled sequence k uniforms drawn here from its own stream, in the order the local
/// drafter would draw them), plus the sequences whose draft caches were freed since. The draft caches here
/// are records (<see cref="RemoteKvCache"/>) that mirror the grain's lengths. Blocking by design: the engine
/// calls it from its serving thread. An unreachable draft becomes the engine's retryable error.
/// </summary>
public sealed class GrainDrafter(IDraftGrain grain, DraftReport report) : IDrafter
{
    /// <summary>Freed draft caches wait for the next step's call; this many are sent on their own (speculation may be off for long).</summary>
    public const int MaxPendingReleases = 32;

    readonly ConcurrentQueue<long> _released = new();
    long _nextSequenceId;

    public DraftReport Report { get; } = report;

    public int VocabSize => Report.VocabSize;

    public int MaxPositionEmbeddings => Report.MaxPositionEmbeddings;

    public long NumKvBytesPerPosition => Report.KvBytesPerPosition;

    public IKvCache NewCache(int capacity) => new RemoteKvCache(Interlocked.Increment(ref _nextSequenceId), capacity, Release);

    // NOTE: ids are never reused, so a release may reach the grain before or after any later step: order does not matter.
    void Release(long sequenceId)
    {
        _released.Enqueue(sequenceId);
        if (_released.Count < MaxPendingReleases) return;
        var released = TakeReleased();
        if (released.Length == 0) return;
        grain.Propose(new DraftStepRequest([], released)).ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted); // a lost draft is reported by the next step
    }

    long[] TakeReleased()
    {
        var released = new List<long>();
        while (_released.TryDequeue(out long id)) released.Add(id);
        return [.. released];
    }

    public DraftProposal[] Propose(IReadOnlyList<Sequence> sequences, IReadOnlyList<int> numTokens)
    {
        var caches = sequences.Select(CacheOf).ToList();
        var rows = sequences.Select((s, i) => RowOf(s, caches[i], numTokens[i])).ToArray();
        var result = Wait(grain.Propose(new DraftStepRequest(rows, TakeReleased())));
        var proposals = new DraftProposal[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            // The grain's cache now holds the unseen context and every proposal but the last (never fed).
            caches[i].Advance(rows[i].UnseenTokens.Length + rows[i].NumTokens - 1);
            proposals[i] = ProposalOf(result.Rows[i]);
        }
        return proposals;
    }

    static RemoteKvCache CacheOf(Sequence sequence) =>
        sequence.Speculation?.DraftCache as RemoteKvCache
        ?? throw new InvalidOperationException($"sequence {sequence.Id} speculates without a draft cache this drafter made");

    static DraftRowRequest RowOf(Sequence sequence, RemoteKvCache cache, int numTokens)
    {
        var parameters = sequence.Sampler.Parameters;
        double[]? uniforms = parameters.IsGreedy ? null : Enumerable.Range(0, numTokens).Select(_ => sequence.Sampler.NextUniform()).ToArray();
        return new DraftRowRequest(cache.SequenceId, cache.Capacity, cache.Length, DraftRow.UnseenContext(sequence, cache.Length), numTokens,
            parameters.IsGreedy ? null : parameters, uniforms);
    }

    static DraftProposal ProposalOf(DraftRowResult row)
    {
        if (row.ProposalProbabilities is not { } payload) return new DraftProposal(row.TokenIds, null);
        using var scope = NewDisposeScope();
        var stacked = payload.ToTensor(CPU); // [k, V]
        return new DraftProposal(row.TokenIds, stacked.unbind(0).Select(q => q.clone().DetachFromDisposeScope()).ToList());
    }

    static DraftStepResult Wait(Task<DraftStepResult> call)
    {
        try
        {
            return call.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException or DraftUnavailableException)
        {
            throw new ModelUnavailableException($"the draft model is unreachable ({e.Message})", e);
        }
    }
}
