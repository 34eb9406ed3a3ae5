using Granary.Abstractions.Sharding;
using Granary.Engine.KvReuse;
using Granary.Engine.Scheduling;
using Granary.Engine.Speculation;

namespace Granary.Grains.Deployments;

/// <summary>One model deployment a cluster serves: the name clients ask for, where its weights are, how to run them.</summary>
public sealed record DeploymentOptions
{
    /// <summary>The served model name (the OpenAI API's <c>model</c>); also the router grain's key.</summary>
    public required string Name { get; init; }

    /// <summary>A Hugging Face model folder present on every silo (a shared volume in Kubernetes).</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>"cpu", "cuda", "cuda:1", ...</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>fp32, bf16 or fp16; null keeps the checkpoint's own dtype.</summary>
    public string? DType { get; init; }

    public SchedulerOptions Scheduler { get; init; } = new();

    /// <summary>How the model is cut into shard grains over the cluster's device slots; one shard in the router by default.</summary>
    public ParallelPlan Plan { get; init; } = ParallelPlan.Single;

    /// <summary>
    /// Serving lanes of a sharded plan (<see cref="Engine.Serving.ServingLanes"/>): engines of their own over the same shards, whose
    /// steps overlap in the pipeline's stages. Null: one per pipeline stage where the deployment allows it (see
    /// <see cref="PipelineLanes"/>); 1 turns lanes off.
    /// </summary>
    public int? PipelineLanes { get; init; }

    /// <summary>
    /// Positions of one sequence one shard may hold (its KV budget); null: no limit but the context. A sequence
    /// then holds at most this many times the plan's sequence shards (sp), and a longer prompt is refused.
    /// </summary>
    public int? KvTokensPerShard { get; init; }

    /// <summary>
    /// How long a shard stays loaded without hearing from its router (which renews every third of it). When the
    /// router's silo dies, its shards on other silos free their weights, KV and device slots after this long.
    /// </summary>
    public TimeSpan ShardLease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A draft model folder (the target's tokenizer) loaded beside the target: decoding is then speculative.</summary>
    public string? DraftDirectory { get; init; }

    /// <summary>VocabTrim: keep the draft's LM head to this many most frequent tokens (vocab_trim.json beside the draft); 0 keeps all.</summary>
    public int DraftVocabTokens { get; init; }

    public SpeculationOptions Speculation { get; init; } = new();

    /// <summary>Where the draft runs: beside the router's engine, or on a draft grain of its own (see <see cref="Deployments.DraftPlacementMode"/>).</summary>
    public DraftPlacementMode DraftPlacement { get; init; } = DraftPlacementMode.Auto;

    /// <summary>Whether the draft runs on a draft grain: always with <see cref="DraftPlacementMode.Grain"/>, and with <see cref="DraftPlacementMode.Auto"/> whenever the target runs a plan.</summary>
    public bool DraftsOnGrain => DraftDirectory is not null
        && (DraftPlacement == DraftPlacementMode.Grain || (DraftPlacement == DraftPlacementMode.Auto && !Plan.IsSingle));

    /// <summary>Prefix reuse, TTL pins and KV tiers; null: off (every request prefills its whole prompt).</summary>
    public KvReuseOptions? KvReuse { get; init; }

    /// <summary>Where the cxl tier's memory is (used when <see cref="KvReuseOptions.CxlCapacityBlocks"/> is above 0).</summary>
    public CxlMemory? Cxl { get; init; }
}
