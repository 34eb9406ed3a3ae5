using Granary.Abstractions.Sharding;
using Granary.Abstractions;
using Granary.Engine.Scheduling;
using Granary.Grains.Deployments;

namespace Granary.Server.Hosting;

/// <summary>
/// Everything `granary serve` takes, bound from the "Granary" configuration section: appsettings.json, then
/// environment variables (GRANARY__MODEL, GRANARY__REDIS, ...), then command-line flags, later ones winning.
/// </summary>
public sealed class GranaryServerOptions
{
    public const string Section = "Granary";

    /// <summary>A Hugging Face model folder, or "default" for the shipped model.</summary>
    public string Model { get; set; } = "default";

    /// <summary>The name clients pass as <c>model</c>; defaults to the folder's name ("granary-default" for the shipped model).</summary>
    public string? ServedModelName { get; set; }

    /// <summary>HTTP (OpenAI API, health) endpoint(s), separated by ';'.</summary>
    public string Urls { get; set; } = "http://127.0.0.1:8000";

    /// <summary>gRPC endpoint(s): HTTP/2 without TLS needs its own port.</summary>
    public string GrpcUrls { get; set; } = "http://127.0.0.1:8001";

    /// <summary>HOST:PORT of the Redis that holds cluster membership; none means a single-host localhost cluster.</summary>
    public string? Redis { get; set; }

    public string ClusterId { get; set; } = "granary";

    public string ServiceId { get; set; } = "granary";

    /// <summary>Silo-to-silo port and client gateway port; distinct per silo on one host.</summary>
    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other silos reach this one at (the pod IP in Kubernetes).</summary>
    public string AdvertisedIp { get; set; } = "127.0.0.1";

    /// <summary>With localhost clustering: the silo port of the first silo, which later ones join (none: this is it).</summary>
    public int? PrimarySiloPort { get; set; }

    public string Device { get; set; } = "cpu";

    /// <summary>fp32, bf16 or fp16; none keeps the checkpoint's own.</summary>
    public string? DType { get; set; }

    public int MaxNumSeqs { get; set; } = 64;

    public int MaxNumBatchedTokens { get; set; } = 2048;

    public int MaxNumWaiting { get; set; } = 1024;

    /// <summary>KV positions all running sequences may reserve together; none: unlimited.</summary>
    public long? KvCacheTokens { get; set; }

    /// <summary>
    /// KV positions of one sequence one shard may hold (none: unlimited). A prompt longer than this times the
    /// plan's sequence shards (sp) is refused with a 400.
    /// </summary>
    public int? KvTokensPerShard { get; set; }

    /// <summary>How the model is cut into shard grains over the cluster: pp=P,tp=T,vp=V,sp=S (none: the router holds it whole).</summary>
    public string? Plan { get; set; }

    /// <summary>
    /// Serving lanes of a pipelined plan: engines of their own over the same shards, each with its share of the
    /// running sequences, whose steps overlap in the stages. None: one per pipeline stage where the deployment
    /// allows it (no vocabulary or sequence parallelism, no draft, no KV tier, at least one running sequence per
    /// lane, and a share of the KV budget that holds a whole sequence); 1 turns lanes off.
    /// </summary>
    public int? PipelineLanes { get; set; }

    /// <summary>Device slots this silo offers to shards (one CPU slot by default; e.g. the GPUs of the pod).</summary>
    public int Devices { get; set; } = 1;

    /// <summary>
    /// Seconds a shard stays loaded without its router renewing its lease: when the router's silo dies, the
    /// shards it placed on other silos free their weights, KV caches and device slots after this long.
    /// </summary>
    public double ShardLeaseSeconds { get; set; } = 30;
    /// <summary>A draft model folder, or "default" for the shipped draft; none: no speculative decoding.</summary>
    public string? Draft { get; set; }

    /// <summary>k: most tokens the draft proposes per sequence and step (adapted down at run time; 0 turns speculation off).</summary>
    public int Speculate { get; set; } = 4;

    /// <summary>VocabTrim: the draft's LM head keeps this many most frequent tokens (0 keeps all).</summary>
    public int DraftVocab { get; set; }

    /// <summary>
    /// Where the draft runs: "local" (beside the router's engine), "grain" (a draft grain on its own device slot,
    /// or co-located with a target shard when no slot is free), or "auto" (grain when a plan is set, else local).
    /// </summary>
    public string DraftPlacement { get; set; } = "auto";

    /// <summary>API keys and their tenants; when any are configured, every API call must present one.</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>Prefix reuse, TTL pins and KV tiers ("Granary:KvTier:*").</summary>
    public KvTierServerOptions KvTier { get; set; } = new();

    /// <summary>Request, per-key and timeout limits of the APIs (Granary:Limits:*).</summary>
    public RequestLimitsOptions Limits { get; set; } = new();

    /// <summary>
    /// On SIGTERM: how long in-flight requests may run to their end while new ones are refused (503), before the
    /// silo stops anyway.
    /// </summary>
    public double ShutdownGraceSeconds { get; set; } = 30;

    /// <summary>
    /// Mid-stream failover: how long a request whose deployment became unavailable (a silo died) waits for it to
    /// be ready again before it is resumed or fails; 0 turns resuming off (such requests fail at once, retryable).
    /// </summary>
    public double FailoverWaitSeconds { get; set; } = 120;

    /// <summary>Returns the first problem, naming the setting, or null.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(Model)) return "Granary:Model (--model) is empty";
        if (string.IsNullOrWhiteSpace(Urls)) return "Granary:Urls (--urls) is empty";
        foreach (string url in SplitUrls(Urls).Concat(SplitUrls(GrpcUrls)))
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                return $"Granary:Urls / GrpcUrls: \"{url}\" is not an http(s) URL like http://127.0.0.1:8000";
        if (Redis is not null && !IsHostPort(Redis)) return $"Granary:Redis (--redis): \"{Redis}\" is not HOST:PORT";
        if (SiloPort is < 1 or > 65535) return $"Granary:SiloPort (--silo-port) must be a port number (got {SiloPort})";
        if (GatewayPort is < 1 or > 65535) return $"Granary:GatewayPort (--gateway-port) must be a port number (got {GatewayPort})";
        if (SiloPort == GatewayPort) return "Granary:SiloPort and Granary:GatewayPort must differ";
        if (!System.Net.IPAddress.TryParse(AdvertisedIp, out _)) return $"Granary:AdvertisedIp: \"{AdvertisedIp}\" is not an IP address";
        if (MaxNumSeqs < 1) return $"Granary:MaxNumSeqs must be >= 1 (got {MaxNumSeqs})";
        if (MaxNumBatchedTokens < MaxNumSeqs) return $"Granary:MaxNumBatchedTokens ({MaxNumBatchedTokens}) must be >= Granary:MaxNumSeqs ({MaxNumSeqs})";
        if (MaxNumWaiting < 0) return "Granary:MaxNumWaiting must be >= 0";
        if (KvCacheTokens is < 1) return "Granary:KvCacheTokens must be >= 1";
        if (KvTokensPerShard is < 2) return $"Granary:KvTokensPerShard (--kv-tokens-per-shard) must be >= 2 (got {KvTokensPerShard})";
        if (PipelineLanes is < 1 or > Granary.Grains.Deployments.PipelineLanes.Max)
            return $"Granary:PipelineLanes (--pipeline-lanes) must be in 1..{Granary.Grains.Deployments.PipelineLanes.Max} (got {PipelineLanes})";
        if (Devices < 0) return $"Granary:Devices (--devices) must be >= 0 (got {Devices})";
        if (!(ShardLeaseSeconds >= 1)) return $"Granary:ShardLeaseSeconds must be >= 1 (got {ShardLeaseSeconds})";
        try
        {
            ParallelPlan.Parse(Plan, "Granary:Plan (--plan)");
        }
        catch (GranaryUserError e)
        {
            return e.Message;
        }
        if (Speculate is < 0 or > 32) return $"Granary:Speculate (--speculate) must be in 0..32 (got {Speculate})";
        if (DraftVocab < 0) return $"Granary:DraftVocab (--draft-vocab) must be >= 0 (got {DraftVocab})";
        if (Draft is not null && string.IsNullOrWhiteSpace(Draft)) return "Granary:Draft (--draft) is empty";
        try
        {
            DraftPlacementModes.Parse(DraftPlacement, "Granary:DraftPlacement (--draft-placement)");
        }
        catch (GranaryUserError e)
        {
            return e.Message;
        }
        if (DType is not null && Granary.Model.Loading.RunDType.TryParse(DType) is null)
            return $"Granary:DType (--dtype): \"{DType}\" is not fp32, bf16 or fp16";
        if (Limits.Validate() is { } limitProblem) return limitProblem;
        if (!(ShutdownGraceSeconds >= 0)) return $"Granary:ShutdownGraceSeconds must be >= 0 (got {ShutdownGraceSeconds})";
        if (!(FailoverWaitSeconds >= 0)) return $"Granary:FailoverWaitSeconds must be >= 0 (got {FailoverWaitSeconds})";
        for (int i = 0; i < ApiKeys.Count; i++)
            if (ApiKeys[i].Validate() is { } problem) return $"Granary:ApiKeys:{i}: {problem}";
        if (KvTier.Validate(KvCacheTokens) is { } kvProblem) return kvProblem;
        return null;
    }

    public static IEnumerable<string> SplitUrls(string urls) =>
        urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>How <see cref="Serving.ModelGateway"/> resumes requests (<see cref="FailoverWaitSeconds"/>).</summary>
    public Serving.ResumeOptions ToResumeOptions() => FailoverWaitSeconds > 0
        ? new Serving.ResumeOptions { MaxWait = TimeSpan.FromSeconds(FailoverWaitSeconds) }
        : new Serving.ResumeOptions { MaxAttempts = 1 };

    public SchedulerOptions ToSchedulerOptions() => new()
    {
        MaxNumRunningSequences = MaxNumSeqs,
        MaxNumBatchedTokens = MaxNumBatchedTokens,
        MaxNumWaiting = MaxNumWaiting,
        KvCacheTokenBudget = KvCacheTokens ?? long.MaxValue,
    };

    /// <summary>The one deployment this process serves, its model folder resolved.</summary>
    public DeploymentOptions ToDeployment(string modelDirectory, string? draftDirectory = null) => new()
    {
        DraftDirectory = draftDirectory,
        DraftVocabTokens = DraftVocab,
        DraftPlacement = DraftPlacementModes.Parse(DraftPlacement, "Granary:DraftPlacement (--draft-placement)"),
        Speculation = new Granary.Engine.Speculation.SpeculationOptions { NumSpeculativeTokens = Speculate },
        Name = ServedModelName ?? DefaultServedName(modelDirectory),
        ModelDirectory = modelDirectory,
        Device = Device,
        DType = DType,
        Scheduler = ToSchedulerOptions(),
        Plan = ParallelPlan.Parse(Plan, "Granary:Plan (--plan)"),
        KvTokensPerShard = KvTokensPerShard,
        PipelineLanes = PipelineLanes,
        ShardLease = TimeSpan.FromSeconds(ShardLeaseSeconds),
        KvReuse = KvTier.ToKvReuseOptions(),
        Cxl = KvTier.ToCxlMemory(),
    };

    string DefaultServedName(string modelDirectory) =>
        Model == Models.DefaultModels.Name ? "granary-default" : new DirectoryInfo(modelDirectory).Name;

    static bool IsHostPort(string value)
    {
        int colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value[(colon + 1)..], out int port) && port is > 0 and < 65536;
    }
}

/// <summary>One API key. <see cref="Key"/> is the secret as clients send it; <see cref="Tenant"/> names whose it is.</summary>
public sealed class ApiKeyOptions
{
    public string Key { get; set; } = "";

    public string Tenant { get; set; } = "";

    public string? Validate()
    {
        if (string.IsNullOrEmpty(Key)) return "Key is empty";
        if (Key.Length < 8) return "Key must be at least 8 characters";
        if (string.IsNullOrWhiteSpace(Tenant)) return "Tenant is empty";
        return null;
    }
}
