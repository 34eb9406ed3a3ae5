namespace Granary.Engine.Scheduling;

/// <summary>Limits of the iteration-level scheduler. Defaults suit one small CPU/GPU device.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Most sequences running (admitted, holding KV) at once.</summary>
    public int MaxNumRunningSequences { get; init; } = 64;

    /// <summary>
    /// Most tokens one forward step takes: every running decode (one token each) first, then prompt chunks.
    /// This is what keeps a long prompt from stalling running decodes (chunked prefill).
    /// </summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>Most requests waiting for admission; beyond it submissions are refused.</summary>
    public int MaxNumWaiting { get; init; } = 1024;

    /// <summary>KV positions all running sequences may hold together (each reserves prompt + max_tokens).</summary>
    public long KvCacheTokenBudget { get; init; } = long.MaxValue;

    /// <summary>
    /// Most KV positions one sequence may hold: its shards' per-shard budget times the sequence shards it is
    /// spread over. A longer prompt is refused; null: only the model's context limits it.
    /// </summary>
    public int? MaxSequenceTokens { get; init; }

    /// <summary>
    /// One of <paramref name="numLanes"/> lanes' share of these limits, so that the lanes together keep them:
    /// running sequences and waiting requests divided (rounded up), the KV budget divided (rounded down). The
    /// per-step token limit (a step's length) and the per-sequence limit stay as they are.
    /// </summary>
    public SchedulerOptions ShareOf(int numLanes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numLanes, 1);
        if (numLanes == 1) return this;
        return this with
        {
            MaxNumRunningSequences = (MaxNumRunningSequences + numLanes - 1) / numLanes,
            MaxNumWaiting = (MaxNumWaiting + numLanes - 1) / numLanes,
            KvCacheTokenBudget = KvCacheTokenBudget == long.MaxValue ? long.MaxValue : KvCacheTokenBudget / numLanes,
        };
    }

    public string? Validate()
    {
        if (MaxNumRunningSequences < 1) return "MaxNumRunningSequences must be >= 1";
        if (MaxNumBatchedTokens < MaxNumRunningSequences)
            return $"MaxNumBatchedTokens ({MaxNumBatchedTokens}) must be >= MaxNumRunningSequences ({MaxNumRunningSequences}) so every running sequence can decode each step";
        if (MaxNumWaiting < 0) return "MaxNumWaiting must be >= 0";
        if (KvCacheTokenBudget < 1) return "KvCacheTokenBudget must be >= 1";
        if (MaxSequenceTokens is < 2) return "MaxSequenceTokens must be >= 2 (a prompt token and a generated one)";
        return null;
    }
}
