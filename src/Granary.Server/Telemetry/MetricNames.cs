namespace Granary.Server.Telemetry;

/// <summary>
/// The Prometheus names Granary exports, exactly as a scrape of <c>/metrics</c> shows them. The <c>vllm:</c> ones
/// are vLLM's, so the vLLM production-stack dashboards work unchanged; the <c>granary_</c> ones are Granary's own.
/// </summary>
/// <remarks>
/// NOTE: OpenTelemetry .NET rejects ':' in instrument names, so a <c>vllm:x</c> metric is the instrument
/// <c>vllm_x</c> (see <see cref="ToInstrumentName"/>), and <see cref="PrometheusNameRestorer"/> turns the
/// exported <c>vllm_</c> prefix back into <c>vllm:</c>. OTLP receivers see the <c>vllm_</c> spelling.
/// </remarks>
public static class MetricNames
{
    public const string TimeToFirstToken = "vllm:time_to_first_token_seconds";
    public const string InterTokenLatency = "vllm:inter_token_latency_seconds";
    public const string EndToEndLatency = "vllm:e2e_request_latency_seconds";
    public const string QueueTime = "vllm:request_queue_time_seconds";
    public const string NumRequestsRunning = "vllm:num_requests_running";
    public const string NumRequestsWaiting = "vllm:num_requests_waiting";
    public const string KvCacheUsage = "vllm:kv_cache_usage_perc";
    public const string PromptTokens = "vllm:prompt_tokens_total";
    public const string GenerationTokens = "vllm:generation_tokens_total";
    public const string RequestSuccess = "vllm:request_success_total";
    public const string SpecDecodeDraftTokens = "vllm:spec_decode_num_draft_tokens_total";
    public const string SpecDecodeAcceptedTokens = "vllm:spec_decode_num_accepted_tokens_total";

    /// <summary>Requests that ended with an error chunk (refused or failed), by error kind.</summary>
    public const string RequestFailures = "granary_request_failures_total";

    /// <summary>KV positions held, by tier; only the device tier exists until the KV tier lands.</summary>
    public const string KvTierTokens = "granary_kv_tier_tokens";

    /// <summary>The KV tier's metrics (<see cref="Granary.Engine.KvReuse.KvTierMetrics"/>); exported once a deployment runs with Granary:KvTier:Enabled.</summary>
    public const string KvTierBytes = "granary_kv_tier_bytes";
    public const string KvTierBlocks = "granary_kv_tier_blocks";
    public const string KvTierHits = "granary_kv_tier_hits_total";
    public const string KvTtlExpired = "granary_kv_ttl_expired_total";
    public const string KvRestoreTime = "granary_kv_restore_seconds";
    public const string PrefixCacheQueries = "vllm:prefix_cache_queries_total";
    public const string PrefixCacheHits = "vllm:prefix_cache_hits_total";

    /// <summary>Per shard {stage, rank}; recorded by the engine and the shard grains (<see cref="Granary.Engine.Serving.StepMetrics"/>).</summary>
    public const string ShardStepTime = "granary_shard_step_seconds";

    /// <summary>A router's whole iteration (schedule, forward over every shard, sample).</summary>
    public const string RouterStepTime = "granary_router_step_seconds";

    /// <summary>Every metric above: what a scrape must show and what the dashboard may query.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        TimeToFirstToken, InterTokenLatency, EndToEndLatency, QueueTime, NumRequestsRunning, NumRequestsWaiting,
        KvCacheUsage, PromptTokens, GenerationTokens, RequestSuccess, SpecDecodeDraftTokens, SpecDecodeAcceptedTokens,
        RequestFailures, KvTierTokens, ShardStepTime, RouterStepTime,
    ];

    /// <summary>Label every vLLM metric carries.</summary>
    public const string ModelNameLabel = "model_name";

    /// <summary>
    /// The OpenTelemetry instrument behind an exported name: ':' becomes '_', and a counter's <c>_total</c> is left
    /// off because the Prometheus exporter appends it.
    /// </summary>
    public static string ToInstrumentName(string exportedName)
    {
        string name = exportedName.Replace(':', '_');
        return name.EndsWith("_total", StringComparison.Ordinal) ? name[..^"_total".Length] : name;
    }
}
