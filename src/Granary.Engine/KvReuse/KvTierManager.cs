using Granary.Engine.Generation;

namespace Granary.Engine.KvReuse;

/// <summary>
/// The engine's side of the KV tier: what happens to a request's KV around its life. At submission it learns
/// the request's program (and the gap since the program's last turn, if that turn was waiting on a tool) and
/// starts prefetching its reusable lower-tier blocks; at
/// admission it restores the longest cached prefix; when the request finishes it keeps the KV's whole blocks
/// and, if the turn waits on a tool, pins the program's blocks for the tool's predicted duration. The
/// scheduler calls it; it never schedules.
/// </summary>
public sealed class KvTierManager : IDisposable
{
    readonly TimeProvider _clock;
    /// <summary>Programs remembered before idle ones are forgotten (their order and turn counts start over if they return).</summary>
    public const int DefaultMaxRememberedPrograms = 4096;

    readonly int _maxRememberedPrograms;
    readonly Dictionary<(string? Tenant, string Name), AgentProgram> _programs = [];

    public KvTierManager(PrefixCache cache, TimeProvider clock, int maxRememberedPrograms = DefaultMaxRememberedPrograms)
    {
        _maxRememberedPrograms = maxRememberedPrograms;
        Cache = cache;
        _clock = clock;
        Predictor = new ToolDurationPredictor(cache.Options.DefaultToolTtl, cache.Options.TtlQuantile);
    }

    public PrefixCache Cache { get; }

    public ToolDurationPredictor Predictor { get; }

    public AgentProgram? ProgramOf(string? tenant, string name) => _programs.GetValueOrDefault((tenant, name));

    /// <summary>The order the request queues in: its program's first arrival (program-level FCFS), else its own.</summary>
    internal long OnSubmitted(GenerationRequest request, long sequenceId)
    {
        // While it waits, its reusable blocks on host or cxl start coming back (the restore at admission then copies on the device).
        Cache.Prefetch(request.Tenant, request.PromptTokenIds, request.PromptTokenIds.Count - 1);
        if (request.Program is not { } name) return sequenceId;
        if (!_programs.TryGetValue((request.Tenant, name), out var program))
        {
            if (_programs.Count >= _maxRememberedPrograms) ForgetIdlePrograms();
            _programs[(request.Tenant, name)] = program = new AgentProgram(request.Tenant, name, sequenceId);
        }
        if (program is { AwaitingTool: { } tool, LastTurnEndedAt: { } endedAt })
            Predictor.Observe(tool, _clock.GetUtcNow() - endedAt);
        program.AwaitingTool = null;
        return Cache.Options.IsProgramFcfs ? program.ArrivalOrder : sequenceId;
    }

    // Programs whose last turn ended longer ago than any pin could last are done, or as good as new.
    void ForgetIdlePrograms()
    {
        var cutoff = _clock.GetUtcNow() - 2 * Cache.Options.MaxToolTtl;
        foreach (var key in _programs.Where(p => p.Value.LastTurnEndedAt < cutoff).Select(p => p.Key).ToList()) _programs.Remove(key);
    }

    /// <summary>Restores the longest cached prefix of the prompt into the just-admitted sequence's cache; returns its length.</summary>
    internal int OnAdmitted(Sequence sequence)
    {
        var request = sequence.Request;
        if (sequence.Cache is not { } cache || !Cache.Storage.CanTransfer(cache)) return 0;
        if (request.Program is { } program) Cache.Unpin(request.Tenant, program);
        // NOTE: the last prompt token is always computed again: its forward gives the logits of the first output token.
        var matched = Cache.Match(request.Tenant, request.PromptTokenIds, request.PromptTokenIds.Count - 1);
        return matched.Count == 0 ? 0 : Cache.Restore(matched, cache);
    }

    /// <summary>Keeps a finished turn's KV; pins it when the turn waits on a tool.</summary>
    internal void OnFinished(Sequence sequence)
    {
        if (sequence.Cache is not { } cache || !Cache.Storage.CanTransfer(cache)) return;
        var request = sequence.Request;
        var tokens = Enumerable.Range(0, cache.Length).Select(sequence.TokenAt).ToArray();
        Cache.Insert(request.Tenant, request.Program, tokens, cache);
        if (request.Program is not { } name || !_programs.TryGetValue((request.Tenant, name), out var program)) return;
        program.NumTurns++;
        program.LastTurnEndedAt = _clock.GetUtcNow();
        // NOTE: the model does not emit tool calls (no finish_reason "tool_calls" yet), so the client's hint is the signal.
        string? tool = request.AwaitingTool;
        program.AwaitingTool = tool;
        if (tool is not null) Cache.Pin(request.Tenant, name, _clock.GetUtcNow() + TtlFor(tool, program.NumTurns));
    }

    /// <summary>The TTL of a pin for <paramref name="tool"/> after <paramref name="numTurns"/> turns.</summary>
    public TimeSpan TtlFor(string tool, int numTurns)
    {
        double seconds = Predictor.Predict(tool).TotalSeconds * ToolDurationPredictor.TurnScale(numTurns);
        return TimeSpan.FromSeconds(Math.Min(seconds, Cache.Options.MaxToolTtl.TotalSeconds));
    }

    /// <summary>Runs between steps: pins whose TTL ran out demote.</summary>
    internal void Tick() => Cache.ExpirePins();

    public void Dispose() => Cache.Dispose();
}
