using System.Diagnostics;
using Granary.Engine.Speculation;
using Granary.Grains.Sharding;
using Granary.Model.KvCache;
using Granary.Model.Loading;
using Granary.Model.Runtime;
using Granary.Model.Sampling;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Grains.Drafting;

/// <summary>
/// Holds a deployment's draft model and its KV caches (by the router's sequence ids) on the silo its key
/// names, and runs <see cref="DraftProposer"/> for each step's batch: the same proposals the draft gives
/// beside the engine. Proposals run on the grain's turn (plain compute, no peers to wait for).
/// </summary>
[SiloPinnedPlacement]
[CollectionAgeLimit(AlwaysActive = true)]
public sealed class DraftGrain(ILogger<DraftGrain> logger) : Grain, IDraftGrain
{
    readonly Dictionary<long, SequenceKvCache> _caches = [];
    DraftAssignment? _assignment;
    DraftModel? _draft;
    Task? _loading;
    bool _unloaded;

    public async Task<DraftReport> Load(DraftAssignment assignment)
    {
        if (_assignment is not null && _assignment != assignment)
            throw new InvalidOperationException($"draft {this.GetPrimaryKeyString()} already holds another assignment");
        _assignment ??= assignment;
        await (_loading ??= Task.Run(() => LoadDraft(assignment, this.GetPrimaryKeyString())));
        return Report();
    }

    void LoadDraft(DraftAssignment a, string key)
    {
        var started = DateTime.UtcNow;
        var options = new ModelLoadOptions(a.DType is { } dtype ? RunDType.Parse(dtype, "dtype") : null, a.Device);
        _draft = DraftLoader.Load(a.DraftDirectory, options, a.VocabTrimTokens);
        logger.LogInformation("Draft {Key}: loaded {Directory} ({Megabytes:F1} MB, {Slot}) in {Seconds:F1} s", key, a.DraftDirectory,
            _draft.NumWeightBytes / 1e6, a.HasOwnSlot ? "own device slot" : "co-located with a target shard", (DateTime.UtcNow - started).TotalSeconds);
    }

    public async Task<DraftStepResult> Propose(DraftStepRequest request)
    {
        if (_loading is null || _unloaded) throw new DraftUnavailableException($"draft {this.GetPrimaryKeyString()} holds no weights (it was unloaded, or its silo restarted)");
        await _loading;
        long started = Stopwatch.GetTimestamp();
        var draft = _draft!;
        foreach (long released in request.ReleasedSequences)
            if (_caches.Remove(released, out var cache)) cache.Dispose();
        var rows = request.Rows.Select(r => RowOf(draft, r)).ToList();
        var proposals = DraftProposer.Propose(draft, rows);
        try
        {
            var results = proposals.Select(p => new DraftRowResult([.. p.TokenIds], ProposalPayload(p))).ToArray();
            return new DraftStepResult(results, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        finally
        {
            foreach (var proposal in proposals) proposal.Dispose();
            foreach (var row in rows) row.Sampling?.Sampler.Dispose();
        }
    }

    // The router's record of the cache length is the truth: it rolled back rejected positions since the last step.
    DraftRow RowOf(DraftModel draft, DraftRowRequest row)
    {
        if (!_caches.TryGetValue(row.SequenceId, out var cache)) _caches[row.SequenceId] = cache = draft.NewCache(row.Capacity);
        if (cache.Length < row.CacheLength)
            throw new InvalidOperationException($"draft {this.GetPrimaryKeyString()}: sequence {row.SequenceId} holds {cache.Length} positions, the router expects {row.CacheLength}");
        if (cache.Length > row.CacheLength) cache.Truncate(row.CacheLength);
        DraftSampling? sampling = null;
        if (row.Sampling is { IsGreedy: false } parameters)
        {
            var uniforms = new Queue<double>(row.Uniforms ?? throw new ArgumentException($"sampled sequence {row.SequenceId} came without uniforms"));
            sampling = new DraftSampling(new SequenceSampler(parameters, []), uniforms.Dequeue);
        }
        return new DraftRow(cache, row.UnseenTokens, row.NumTokens, sampling);
    }

    static TensorPayload? ProposalPayload(DraftProposal proposal)
    {
        if (proposal.ProposalProbabilities is not { Count: > 0 } qs) return null;
        using var stacked = stack(qs.ToList()); // [k, V]
        return TensorPayload.From(stacked);
    }

    public Task<DraftReport> Describe() => Task.FromResult(Report());

    DraftReport Report()
    {
        var a = _assignment ?? throw new InvalidOperationException($"draft {this.GetPrimaryKeyString()} was never loaded");
        string key = this.GetPrimaryKeyString();
        return new DraftReport(key, ShardKey.SiloOf(key).ToString(), a.HasOwnSlot, _draft?.VocabSize ?? 0, _draft?.MaxPositionEmbeddings ?? 0,
            _draft?.NumWeightBytes ?? 0, _draft?.NumKvBytesPerPosition ?? 0, _caches.Count);
    }

    public Task Unload()
    {
        _unloaded = true;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        foreach (var cache in _caches.Values) cache.Dispose();
        _caches.Clear();
        _draft?.Dispose();
        return Task.CompletedTask;
    }
}
