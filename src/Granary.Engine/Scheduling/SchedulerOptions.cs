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
    /// Lane <paramref name="lane"/>'s share of these limits when <paramref name="numLanes"/> lanes split them, so
    /// that the shares add up to them exactly: running sequences, waiting requests and the KV budget divided,
    /// the first lanes taking one more where they do not divide. The per-step token limit (a step's length)
    /// and the per-sequence limit stay as they are.
    /// </summary>
    public SchedulerOptions ShareOf(int lane, int numLanes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numLanes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(lane);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(lane, numLanes);
        if (MaxNumRunningSequences < numLanes)
            throw new ArgumentException($"{numLanes} lanes need at least as many running sequences (MaxNumRunningSequences is {MaxNumRunningSequences})", nameof(numLanes));
        if (numLanes == 1) return this;
        return this with
        {
            MaxNumRunningSequences = (int)Part(MaxNumRunningSequences),
            MaxNumWaiting = (int)Part(MaxNumWaiting),
            KvCacheTokenBudget = KvCacheTokenBudget == long.MaxValue ? long.MaxValue : Part(KvCacheTokenBudget),
        };

        long Part(long total) => total / numLanes + (lane < total % numLanes ? 1 : 0);
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
