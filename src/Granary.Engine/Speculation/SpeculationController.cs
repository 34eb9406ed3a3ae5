namespace Granary.Engine.Speculation;

/// <summary>
/// The batch-level cap on k, learned from measured throughput so that speculation never makes decoding
/// slower: at batch 1 verifying k + 1 positions costs little more than a plain step, but at large batches
/// the target's step grows with every position, and plain decoding wins. Batch sizes fall in power-of-two
/// buckets; each bucket keeps, per cap, tokens and seconds summed with exponential decay (a ratio of sums:
/// one step's tokens/s is too noisy, acceptance alone makes it vary 1..k + 1-fold) and hill-climbs: now and
/// then it runs a few steps at a neighbouring cap (and every <see cref="PlainProbeEvery"/>th time at cap 0), and
/// it moves when that cap measured faster. Cap 0 is plain decoding, so a bucket where speculation does not pay
/// settles there. Exploring costs the steps spent at a worse cap, so each exploration that does not lead to a
/// move doubles the wait before the next one (from <see cref="ExplorePeriod"/> up to <see cref="MaxExplorePeriod"/>
/// steps, or <see cref="MaxPlainExplorePeriod"/> from plain decoding); a move resets it. A cap above the k any
/// sequence's acceptance asks for behaves exactly like that k, so the bucket drops to it
/// (<see cref="OnPlanned"/>): exploring then probes caps that change
/// something, and a bucket where speculation does not pay walks down to plain decoding instead of stalling on
/// a plateau of equivalent caps. Not thread-safe: the engine's thread plans and observes.
/// </summary>
public sealed class SpeculationController(int maxK, bool isAdaptive)
{
    /// <summary>Steps between explorations of a neighbouring cap, at first and at most.</summary>
    public const int ExplorePeriod = 6, MaxExplorePeriod = 96;

    /// <summary>
    /// The most steps between explorations from plain decoding (cap 0). Such an exploration costs more than its
    /// steps: the drafts did not run at cap 0, so its first step brings every sequence's draft cache up to date
    /// (a draft prefill of every token since), several plain steps' worth at a large batch.
    /// </summary>
    public const int MaxPlainExplorePeriod = 4 * MaxExplorePeriod;

    /// <summary>Consecutive steps one exploration runs at the neighbouring cap.</summary>
    public const int ExploreSteps = 3;

    /// <summary>
    /// Every this many explorations from a cap of 2 or more probe plain decoding (cap 0) instead of a neighbour.
    /// Neighbouring caps can each differ by less than the noise margin while plain decoding is clearly faster
    /// (a large batch, where every speculative position costs): one step at a time, the cap would never get there.
    /// </summary>
    public const int PlainProbeEvery = 3;

    const double Decay = 0.85;      // per observation of a cap: about the last 7 observations count
    const double MinGain = 1.03;    // a neighbour must be this much faster to move (CPU timings are noisy)
    const int MinSamples = ExploreSteps;

    readonly Dictionary<int, Bucket> _buckets = [];

    public int MaxK { get; } = maxK;

    public bool IsAdaptive { get; } = isAdaptive;

    /// <summary>The cap the bucket of <paramref name="batchSize"/> has settled on (tests, reports).</summary>
    public int CurrentCap(int batchSize) => IsAdaptive ? BucketFor(batchSize).Current : MaxK;

    /// <summary>The cap on k for the next step of <paramref name="batchSize"/> decoding sequences.</summary>
    public int CapFor(int batchSize)
    {
        if (!IsAdaptive || MaxK == 0) return MaxK;
        var bucket = BucketFor(batchSize);
        if (bucket.ExploringCap is { } exploring) return exploring;
        if (++bucket.NumStepsSinceExploring < bucket.ExplorePeriod) return bucket.Current;
        bucket.NumStepsSinceExploring = 0;
        int neighbour;
        if (bucket.Current >= 2 && ++bucket.NumExplorations % PlainProbeEvery == 0)
        {
            neighbour = 0; // plain decoding itself, the pace speculation has to beat
        }
        else
        {
            bucket.ExploreUp = !bucket.ExploreUp;
            neighbour = bucket.Current + (bucket.ExploreUp ? 1 : -1);
            if (neighbour < 0 || neighbour > MaxK) neighbour = bucket.Current + (bucket.ExploreUp ? -1 : 1);
            neighbour = Math.Clamp(neighbour, 0, MaxK);
        }
        if (neighbour == bucket.Current) return bucket.Current;
        bucket.ExploringCap = neighbour;
        bucket.NumExploreStepsLeft = ExploreSteps;
        return neighbour;
    }

    /// <summary>Records a pure decode step run with <paramref name="cap"/>: it emitted <paramref name="numTokens"/> in <paramref name="seconds"/>.</summary>
    public void Observe(int batchSize, int cap, int numTokens, double seconds)
    {
        if (!IsAdaptive || seconds <= 0 || cap < 0 || cap > MaxK) return;
        var bucket = BucketFor(batchSize);
        var measured = bucket.Caps[cap];
        measured.Tokens = measured.Tokens * Decay + numTokens;
        measured.Seconds = measured.Seconds * Decay + seconds;
        measured.NumSamples++;
        if (bucket.ExploringCap != cap || --bucket.NumExploreStepsLeft > 0) return;

        // An exploration just ended: move if the neighbour was faster.
        bucket.ExploringCap = null;
        double current = bucket.Caps[bucket.Current].Throughput;
        if (measured.NumSamples >= MinSamples && measured.Throughput > MinGain * current)
        {
            bucket.ExploreUp = cap < bucket.Current; // the next exploration keeps going the way that paid
            bucket.Current = cap;
            bucket.ExplorePeriod = ExplorePeriod;
        }
        else
        {
            bucket.ExplorePeriod = Math.Min(bucket.Current == 0 ? MaxPlainExplorePeriod : MaxExplorePeriod, bucket.ExplorePeriod * 2);
        }
    }

    /// <summary>
    /// A step of <paramref name="batchSize"/> was planned with <paramref name="cap"/>, and the sequences'
    /// acceptance asked for at most <paramref name="maxWantedK"/> tokens: a settled cap above that drops to it
    /// (no behaviour changes; exploration then starts from the k that runs). Returns the cap the step runs with.
    /// </summary>
    public int OnPlanned(int batchSize, int cap, int maxWantedK)
    {
        if (!IsAdaptive || maxWantedK < 1) return cap;
        var bucket = BucketFor(batchSize);
        if (bucket.ExploringCap is not null || cap != bucket.Current || maxWantedK >= cap) return cap;
        return bucket.Current = maxWantedK;
    }

    Bucket BucketFor(int batchSize)
    {
        int index = BucketIndex(batchSize);
        if (_buckets.TryGetValue(index, out var bucket)) return bucket;
        // A new, larger batch size starts from what the next smaller one learned (k only falls with batch size).
        int start = _buckets.Where(b => b.Key < index).OrderByDescending(b => b.Key).Select(b => b.Value.Current).FirstOrDefault(MaxK);
        bucket = new Bucket(MaxK) { Current = start };
        _buckets[index] = bucket;
        return bucket;
    }

    /// <summary>1 -> 0, 2 -> 1, 3..4 -> 2, 5..8 -> 3, ...</summary>
    public static int BucketIndex(int batchSize) => batchSize <= 1 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(batchSize - 1));

    sealed class Measured
    {
        public double Tokens, Seconds;
        public int NumSamples;

        public double Throughput => Seconds > 0 ? Tokens / Seconds : 0;
    }

    sealed class Bucket(int maxK)
    {
        public int Current;
        public int? ExploringCap;
        public int NumExploreStepsLeft;
        public int NumStepsSinceExploring;
        public int ExplorePeriod = SpeculationController.ExplorePeriod;
        public int NumExplorations;
        public bool ExploreUp = true;
        public Measured[] Caps { get; } = Enumerable.Range(0, maxK + 1).Select(_ => new Measured()).ToArray();
    }
}
