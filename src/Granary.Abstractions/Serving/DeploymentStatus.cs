namespace Granary.Abstractions.Serving;

/// <summary>A deployment's model and its load right now (the router's view).</summary>
public sealed record DeploymentStatus
{
    public required string Model { get; init; }

    /// <summary>The router is still loading the model (or gathering the shards' device slots); nothing else is set yet.</summary>
    public bool IsLoading { get; init; }

    public int ContextLength { get; init; }

    public int VocabSize { get; init; }

    public int NumRunning { get; init; }

    public int NumWaiting { get; init; }

    /// <summary>KV positions reserved by running sequences, and the budget they share.</summary>
    public long KvTokensReserved { get; init; }

    public long KvTokenBudget { get; init; }

    /// <summary>Serving lanes (engines of their own over the same shards, whose steps overlap in the pipeline's stages); 1 for most deployments.</summary>
    public int NumServingLanes { get; init; } = 1;

    /// <summary>Whether the deployment decodes speculatively (a draft model is loaded beside the target).</summary>
    public bool IsSpeculative { get; init; }

    /// <summary>Totals since the deployment started: draft tokens proposed, and those the target accepted
    /// (vllm:spec_decode_num_draft_tokens_total / vllm:spec_decode_num_accepted_tokens_total).</summary>
    public long SpecDecodeNumDraftTokens { get; init; }

    public long SpecDecodeNumAcceptedTokens { get; init; }

    /// <summary>Accepted / draft tokens so far (0 before any).</summary>
    public double SpecDecodeAcceptanceRate { get; init; }

    /// <summary>With the KV tier on: prompt tokens served from cached blocks so far (vllm:prefix_cache_hits).</summary>
    public long PrefixCacheHitTokens { get; init; }

    /// <summary>With the KV tier on: blocks reused so far from the device, host and cxl tiers (in that order).</summary>
    public long[] KvTierHits { get; init; } = [];

    /// <summary>With the KV tier on: blocks on the device, host and cxl tiers now.</summary>
    public int[] KvTierBlocks { get; init; } = [];

    /// <summary>
    /// Where the draft runs when the deployment speculates: "local" (beside the router's engine), "own-slot" (a
    /// draft grain on a device slot of its own) or "co-located" (a draft grain sharing a target shard's slot).
    /// </summary>
    public string? DraftPlacement { get; init; }

    /// <summary>Silo that hosts the draft (the router's for "local").</summary>
    public string? DraftHost { get; init; }

    /// <summary>Silo that hosts the router (and, until shards are spread, the model).</summary>
    public string? Host { get; init; }
}
