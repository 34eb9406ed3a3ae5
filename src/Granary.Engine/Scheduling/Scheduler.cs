using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.KvReuse;
using Granary.Engine.Speculation;
using Granary.Model.KvCache;

namespace Granary.Engine.Scheduling;

/// <summary>
/// Iteration-level (continuous) batching: each step decodes every running sequence by one token, spends the
/// rest of the step's token budget on prompt chunks, and admits waiting requests first-come-first-served
/// while their KV reservation fits. Finished and cancelled sequences leave between steps and free their KV.
/// Owns queues and KV accounting only; it never touches tensors beyond allocating caches.
/// With a <see cref="SpeculationPlanner"/>, decodes also get k speculative positions from what is left of the
/// step's token budget, and draft caches from what is left of the KV budget (SpecMemo): when memory is
/// tight k shrinks, down to plain decoding, and draft caches are given up to admit waiting requests —
/// speculation never evicts a request or fails one.
/// With a <see cref="KvTierManager"/>, requests queue by their program's first arrival (program-level FCFS,
/// Continuum), an admitted request starts from its longest cached prefix, and the KV tier's device blocks
/// share the KV budget: they move down a tier (unpinned first) to let a waiting request in.
/// </summary>
public sealed class Scheduler
{
    readonly SchedulerOptions _options;
    readonly Func<int, IKvCache> _allocateCache;
    readonly SpeculationPlanner? _speculation;
    readonly KvTierManager? _kvTiers;
    readonly LinkedList<Sequence> _waiting = new();
    readonly List<Sequence> _running = [];

    public Scheduler(SchedulerOptions options, Func<int, IKvCache> allocateCache, SpeculationPlanner? speculation = null, KvTierManager? kvTiers = null)
    {
        if (options.Validate() is { } problem) throw new ArgumentException(problem, nameof(options));
        _options = options;
        _allocateCache = allocateCache;
        _speculation = speculation;
        _kvTiers = kvTiers;
    }

    public SpeculationPlanner? Speculation => _speculation;

    public SchedulerOptions Options => _options;

    public KvTierManager? KvTiers => _kvTiers;

    /// <summary>KV positions in use on the device: running sequences plus the KV tier's device blocks.</summary>
    public long NumKvTokensInUse => NumKvTokensReserved + (_kvTiers?.Cache.NumDeviceTokens ?? 0);

    public int NumWaiting => _waiting.Count;

    public int NumRunning => _running.Count;

    /// <summary>KV positions reserved by running sequences, their draft caches included (in target positions).</summary>
    public long NumKvTokensReserved { get; private set; }

    /// <summary>The part of <see cref="NumKvTokensReserved"/> held by draft caches.</summary>
    public long NumDraftKvTokensReserved { get; private set; }

    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;

    public bool CanAdd(Sequence sequence) => _waiting.Count < _options.MaxNumWaiting;

    public void Add(Sequence sequence)
    {
        if (sequence.MaxTotalTokens > _options.KvCacheTokenBudget)
            throw new GranaryUserError(
                $"the request needs {sequence.MaxTotalTokens} KV positions (prompt + max_tokens) but the KV budget is {_options.KvCacheTokenBudget}; lower max_tokens or shorten the prompt");
        if (!CanAdd(sequence)) throw new QueueFullException(_options.MaxNumWaiting);
        // Program-level FCFS: behind everything that queues at or before its order, ahead of the rest.
        var after = _waiting.Last;
        while (after is not null && after.Value.QueueOrder > sequence.QueueOrder) after = after.Previous;
        if (after is null) _waiting.AddFirst(sequence);
        else _waiting.AddAfter(after, sequence);
    }

    /// <summary>Whether time alone changes anything while idle (KV pins whose TTL runs out).</summary>
    public bool HasTimers => _kvTiers is not null;

    /// <summary>What time alone does: pins whose TTL ran out demote. <see cref="Schedule"/> runs it too.</summary>
    public void RunTimers() => _kvTiers?.Tick();

    /// <summary>Plans the next step. Empty when there is nothing to run.</summary>
    public IReadOnlyList<ScheduledChunk> Schedule()
    {
        RemoveLeavers();
        _kvTiers?.Tick();
        var chunks = new List<ScheduledChunk>();
        int budget = _options.MaxNumBatchedTokens;
        foreach (var sequence in _running.Where(s => !s.IsPrefilling))
        {
            chunks.Add(new ScheduledChunk(sequence, [sequence.LastTokenId], SamplesNextToken: true));
            budget--;
        }
        int numDecodes = chunks.Count;
        foreach (var sequence in _running.Where(s => s.IsPrefilling))
        {
            if (budget <= 0) break;
            budget -= AddPromptChunk(chunks, sequence, budget);
        }
        while (budget > 0 && _waiting.First is { } next && (CanAdmit(next.Value) || TryReclaimDraftKvFor(next.Value) || TryDemoteCachedKvFor(next.Value)))
        {
            _waiting.RemoveFirst();
            Admit(next.Value);
            budget -= AddPromptChunk(chunks, next.Value, budget);
        }
        if (_speculation is not null) PlanSpeculation(chunks, numDecodes, budget);
        return chunks;
    }

    // Speculative positions come last: they only use the token budget that decodes and prompts left.
    void PlanSpeculation(List<ScheduledChunk> chunks, int numDecodes, int budget)
    {
        var planner = _speculation!;
        int cap = numDecodes == 0 ? 0 : planner.Controller.CapFor(numDecodes);
        if (cap > 0)
        {
            int maxWanted = 0;
            for (int i = 0; i < numDecodes; i++) maxWanted = Math.Max(maxWanted, planner.WantedTokens(chunks[i].Sequence, cap));
            cap = planner.Controller.OnPlanned(numDecodes, cap, maxWanted);
        }
        planner.LastPlan = (numDecodes, cap);
        if (cap == 0) return;
        for (int i = 0; i < numDecodes && budget > 0; i++)
        {
            var sequence = chunks[i].Sequence;
            int k = planner.NumTokensFor(sequence, cap, budget);
            if (k == 0 || (sequence.Speculation is null && !TryStartSpeculation(sequence))) continue;
            chunks[i] = chunks[i] with { NumSpeculativeTokens = k };
            budget -= k;
        }
    }

    bool TryStartSpeculation(Sequence sequence)
    {
        long cost = _speculation!.DraftReservation(sequence);
        if (NumKvTokensReserved + cost > _options.KvCacheTokenBudget) return false; // tight: decode plainly
        sequence.AttachSpeculation(_speculation.StartSpeculation(sequence));
        NumKvTokensReserved += cost;
        NumDraftKvTokensReserved += cost;
        return true;
    }

    // A waiting request outranks speculation: free draft caches (newest first) when that lets it in.
    bool TryReclaimDraftKvFor(Sequence waiting)
    {
        if (_running.Count >= _options.MaxNumRunningSequences) return false;
        long excess = NumKvTokensReserved + waiting.MaxTotalTokens - _options.KvCacheTokenBudget;
        if (excess <= 0 || excess > NumDraftKvTokensReserved) return false;
        for (int i = _running.Count - 1; i >= 0 && excess > 0; i--)
            if (_running[i].Speculation is { } speculation)
            {
                _running[i].DetachSpeculation();
                ReleaseDraftReservation(speculation.NumReservedKvTokens);
                excess -= speculation.NumReservedKvTokens;
            }
        return true;
    }

    // A waiting request outranks cached KV: move the tier's device blocks down, pinned ones only when nothing
    // runs (a pin must not hold the device idle until its TTL ends).
    bool TryDemoteCachedKvFor(Sequence waiting)
    {
        if (_kvTiers is null || _running.Count >= _options.MaxNumRunningSequences) return false;
        long excess = NumKvTokensInUse + waiting.MaxTotalTokens - _options.KvCacheTokenBudget;
        if (excess <= 0) return true;
        _kvTiers.Cache.FreeDeviceTokens(excess, includePinned: false);
        if (_running.Count == 0) _kvTiers.Cache.FreeDeviceTokens(NumKvTokensInUse + waiting.MaxTotalTokens - _options.KvCacheTokenBudget, includePinned: true);
        return CanAdmit(waiting);
    }

    void ReleaseDraftReservation(long numTokens)
    {
        NumKvTokensReserved -= numTokens;
        NumDraftKvTokensReserved -= numTokens;
    }

    /// <summary>Marks a sequence cancelled; it leaves (and frees its KV) before the next step.</summary>
    public void Cancel(Sequence sequence) => sequence.Cancel();

    /// <summary>Drops finished and cancelled sequences, freeing their KV. Returns those that left.</summary>
    public IReadOnlyList<Sequence> RemoveLeavers()
    {
        var leavers = _running.Where(s => s.IsFinished || s.IsCancelled).ToList();
        foreach (var sequence in leavers)
        {
            _running.Remove(sequence);
            if (sequence.IsFinished && !sequence.IsCancelled) _kvTiers?.OnFinished(sequence);
            NumKvTokensReserved -= sequence.MaxTotalTokens;
            if (sequence.Speculation is { } speculation) ReleaseDraftReservation(speculation.NumReservedKvTokens);
            sequence.Dispose();
        }
        // Blocks the finished turns left on the device give way to the budget (pinned ones stay: their program is due back).
        if (_kvTiers is not null && NumKvTokensInUse > _options.KvCacheTokenBudget)
            _kvTiers.Cache.FreeDeviceTokens(NumKvTokensInUse - _options.KvCacheTokenBudget, includePinned: false);
        foreach (var cancelled in _waiting.Where(s => s.IsCancelled).ToList())
        {
            _waiting.Remove(cancelled);
            cancelled.Dispose();
            leavers.Add(cancelled);
        }
        return leavers;
    }

    bool CanAdmit(Sequence sequence) =>
        _running.Count < _options.MaxNumRunningSequences
        && NumKvTokensInUse + sequence.MaxTotalTokens <= _options.KvCacheTokenBudget;

    void Admit(Sequence sequence)
    {
        sequence.AttachCache(_allocateCache(sequence.MaxTotalTokens));
        NumKvTokensReserved += sequence.MaxTotalTokens;
        _running.Add(sequence);
        if (_kvTiers is not null) sequence.NumCachedPromptTokens = _kvTiers.OnAdmitted(sequence);
    }

    static int AddPromptChunk(List<ScheduledChunk> chunks, Sequence sequence, int budget)
    {
        int[] tokens = sequence.NextPromptChunk(budget);
        bool completesPrompt = tokens.Length == sequence.NumPromptTokensToPrefill;
        chunks.Add(new ScheduledChunk(sequence, tokens, completesPrompt));
        return tokens.Length;
    }
}
