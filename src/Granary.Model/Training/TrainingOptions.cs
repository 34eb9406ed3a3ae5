namespace Granary.Model.Training;

/// <summary>
/// Everything `granary model train` needs. The defaults are the shipped target/draft pair, sized to train
/// in about 80 minutes on 2 CPU cores; <see cref="Smoke"/> is a seconds-long run with tiny models.
/// </summary>
public sealed record TrainingOptions
{
    public const string DefaultCorpusRoot = "/usr/lib/python3.11";

    public string CorpusRoot { get; init; } = DefaultCorpusRoot;
    public double HeldOutFraction { get; init; } = 0.05;

    /// <summary>Use only the first files of each split (smoke runs); null for all.</summary>
    public int? MaxFiles { get; init; }

    public int VocabSize { get; init; } = 8192;
    public int Context { get; init; } = 256;
    public int BatchSize { get; init; } = 16;
    // Measured on the 2-core EPYC with the MALLOC_* variables of NativeHeapTuning: target 1.75k-2.8k tokens/s
    // (1800 steps of 4096 tokens: 7.4M tokens, ~2.7 epochs, 45-70 min), draft ~12k tokens/s (1500 steps, ~9-13 min).
    public ModelShape Target { get; init; } = new(6, 256, 4, 1, ModelShape.DefaultIntermediate(256));
    public ModelShape Draft { get; init; } = new(2, 128, 4, 1, ModelShape.DefaultIntermediate(128));
    public int TargetSteps { get; init; } = 1800;
    public int DraftSteps { get; init; } = 1500;
    public double TargetLr { get; init; } = 1.5e-3;
    public double DraftLr { get; init; } = 2e-3;
    public double WarmupFraction { get; init; } = 0.05;

    /// <summary>Weight of the KL-to-target term in the draft's loss (0: plain next-token training).</summary>
    public double DistillWeight { get; init; } = 0.75;

    /// <summary>
    /// A target folder written by an earlier run with the same corpus, seed and tokenizer options: it is loaded
    /// instead of trained again (its tokenizer must equal the one this run trains). Null trains the target.
    /// </summary>
    public string? ReuseTarget { get; init; }

    /// <summary>Held-out tokens scored (from the start of the held-out stream); caps evaluation time.</summary>
    public int EvalTokens { get; init; } = 65536;

    public long Seed { get; init; }
    public int LogEvery { get; init; } = 25;

    /// <summary>The draft may cost at most this share of the target's forward FLOPs per token.</summary>
    public const double MaxDraftFlopsRatio = 0.25;

    public static TrainingOptions Smoke(string corpusRoot) => new()
    {
        CorpusRoot = corpusRoot,
        MaxFiles = 8,
        VocabSize = 512,
        Context = 64,
        BatchSize = 4,
        Target = new ModelShape(6, 64, 4, 2, 128),
        Draft = new ModelShape(1, 32, 2, 1, 64),
        TargetSteps = 30,
        DraftSteps = 30,
        TargetLr = 3e-3,
        DraftLr = 3e-3,
        EvalTokens = 2048,
        LogEvery = 10,
    };

    /// <summary>Returns the first problem, naming the option, or null.</summary>
    public string? Validate()
    {
        if (!Directory.Exists(CorpusRoot)) return $"--corpus: folder {CorpusRoot} does not exist";
        if (HeldOutFraction is <= 0 or >= 1) return "--held-out must be between 0 and 1";
        if (VocabSize is < 300 or > 65536) return $"--vocab must be between 300 and 65536 (got {VocabSize})";
        if (Context < 8) return "--context must be >= 8";
        if (BatchSize < 1) return "--batch must be >= 1";
        if (TargetSteps < 1 || DraftSteps < 1) return "--target-steps and --draft-steps must be >= 1";
        if (TargetLr <= 0 || DraftLr <= 0) return "--target-lr and --draft-lr must be > 0";
        if (DistillWeight is < 0 or > 1) return $"--distill must be between 0 and 1 (got {DistillWeight})";
        if (ReuseTarget is not null && !File.Exists(Path.Combine(ReuseTarget, "model.safetensors")))
            return $"--reuse-target: {ReuseTarget} has no model.safetensors";
        if (EvalTokens < Context) return $"--eval-tokens must be at least --context ({Context})";
        if (Target.Validate() is { } target) return $"--target: {target}";
        if (Draft.Validate() is { } draft) return $"--draft: {draft}";
        return null;
    }

    public TrainingPlan PlanFor(int steps, double peakLr, long seed) =>
        new(steps, BatchSize, Context, peakLr, Math.Max(1, (int)(steps * WarmupFraction)), seed) { LogEvery = LogEvery };
}
