using System.Diagnostics;
using Granary.Abstractions.Sharding;
using Granary.Model.Configuration;
using Granary.Model.KvCache;
using Granary.Model.Loading;
using Granary.Model.Modeling;
using Granary.Model.Runtime;
using Granary.Model.Sampling;
using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// A plan's shards in one process: stages run one after another, the tensor-parallel ranks of a stage each
/// on its own thread, meeting in <see cref="InProcessTensorParallelGroup"/> all-reduces. Each shard loads
/// only its own slices of the checkpoint. Under vocabulary parallelism every part embeds the ids in its
/// range (the partial embeddings are summed into the first stage's input) and computes the logits of its
/// range from the last stage's hidden states. This is the reference a distributed plan is checked against.
/// </summary>
public sealed class ShardedCausalLm : IVocabParallelLm
{
    readonly CausalLm[][] _stages; // [stage][rank]
    readonly IReadOnlyList<ITensorParallelGroup>[] _groups; // [stage][rank]
    readonly CausalLm[] _vocabParts; // by part (shards of _stages, or vocabulary-only ones); empty without vp
    readonly CausalLm[] _vocabOnly;

    ShardedCausalLm(ModelConfig config, ParallelPlan plan, CausalLm[][] stages, IReadOnlyList<ITensorParallelGroup>[] groups, CausalLm[] vocabOnly)
    {
        Config = config;
        Plan = plan;
        _stages = stages;
        _groups = groups;
        _vocabOnly = vocabOnly;
        _vocabParts = stages.SelectMany(ranks => ranks).Concat(vocabOnly)
            .Where(shard => shard.Network.Shard.Vocab is not null)
            .OrderBy(shard => shard.Network.Shard.Vocab!.Part)
            .ToArray();
    }

    public ModelConfig Config { get; }

    public ParallelPlan Plan { get; }

    public long NumWeightBytes => AllShards.Sum(shard => shard.NumWeightBytes);

    public long NumKvBytesPerPosition => _stages.Sum(ranks => ranks.Sum(shard => shard.NumKvBytesPerPosition));

    /// <summary>The shard of <paramref name="rank"/> in <paramref name="stage"/>.</summary>
    public CausalLm Shard(int stage, int rank) => _stages[stage][rank];

    /// <summary>Every shard: the layer shards stage-major, then the vocabulary-only ones.</summary>
    public IEnumerable<CausalLm> AllShards => _stages.SelectMany(ranks => ranks).Concat(_vocabOnly);

    /// <summary>When set, every step adds each shard's busy time to it (`granary bench vp`).</summary>
    public ShardTimings? Timings { get; set; }

    // Index of a shard in AllShards order.
    int IndexOf(CausalLm shard) => AllShards.Select((s, i) => (s, i)).First(p => ReferenceEquals(p.s, shard)).i;

    /// <summary>The plan's shards and the folder's tokenizer (checked against the model as <see cref="ModelLoader.Load"/> does).</summary>
    public static LoadedPlan LoadWithTokenizer(string modelDir, ModelLoadOptions options, ParallelPlan plan)
    {
        var tokenizer = ModelLoader.LoadTokenizerFor(modelDir, ModelConfigJson.Load(modelDir));
        return new LoadedPlan(Load(modelDir, options, plan), tokenizer);
    }

    /// <param name="kvTokensPerShard">Under sequence parallelism, the positions one shard may hold of one sequence (its KV budget).</param>
    public static ShardedCausalLm Load(string modelDir, ModelLoadOptions options, ParallelPlan plan, int? kvTokensPerShard = null)
    {
        var config = ModelConfigJson.Load(modelDir);
        var specs = ShardSpec.ForPlan(config, plan);
        var stages = new CausalLm[plan.PipelineStages][];
        var groups = new IReadOnlyList<ITensorParallelGroup>[plan.PipelineStages];
        var vocabOnly = new List<CausalLm>();
        try
        {
            for (int s = 0; s < plan.PipelineStages; s++)
            {
                var stageGroups = groups[s] = InProcessTensorParallelGroup.Create(plan.TensorParallelRanks);
                stages[s] = specs.Where(spec => spec.Stage == s)
                    .Select(spec => ModelLoader.LoadShard(modelDir, options, spec, stageGroups[spec.TpRank]))
                    .ToArray();
                // Sequence-parallel shards attend through their own exchange, never the pooled decode batch.
                if (plan.IsSequenceParallel)
                    foreach (var shard in stages[s]) shard.BatchesDecodeRows = false;
            }
            foreach (var spec in specs.Where(spec => spec.IsVocabOnly))
                vocabOnly.Add(ModelLoader.LoadShard(modelDir, options, spec, SingleRankGroup.Instance));
        }
        catch
        {
            foreach (var shard in stages.Where(ranks => ranks is not null).SelectMany(ranks => ranks).Concat(vocabOnly)) shard.Dispose();
            throw;
        }
        return new ShardedCausalLm(config, plan, stages, groups, [.. vocabOnly]) { KvTokensPerShard = kvTokensPerShard };
    }

    /// <summary>
    /// Under sequence parallelism, the positions one shard may hold of one sequence (its KV budget): a cache
    /// gets the requested capacity split evenly over the shards, at most this much on each.
    /// </summary>
    public int? KvTokensPerShard { get; private init; }

    public IKvCache NewCache(int capacity)
    {
        if (Plan.IsSequenceParallel) return NewSequenceParallelCache(capacity);
        var caches = new List<IReadOnlyList<SequenceKvCache>>();
        try
        {
            foreach (var ranks in _stages)
            {
                var stageCaches = new List<SequenceKvCache>();
                caches.Add(stageCaches);
                foreach (var shard in ranks) stageCaches.Add(shard.NewCache(capacity));
            }
        }
        catch
        {
            foreach (var cache in caches.SelectMany(c => c)) cache.Dispose();
            throw;
        }
        return new ShardedKvCache(caches, capacity);
    }

    SequenceParallelKvCache NewSequenceParallelCache(int capacity)
    {
        var positions = SequencePositions.ForCapacity(capacity, Plan.SequenceShards, KvTokensPerShard);
        var caches = new List<IReadOnlyList<SequenceKvCache>>();
        try
        {
            foreach (var shards in _stages) caches.Add(shards.Select(shard => shard.NewCache(positions.CapacityPerShard)).ToList());
        }
        catch
        {
            foreach (var cache in caches.SelectMany(c => c)) cache.Dispose();
            throw;
        }
        return new SequenceParallelKvCache(caches, positions);
    }

    public Tensor Step(IReadOnlyList<StepInput> inputs)
    {
        if (!Plan.IsVocabParallel)
        {
            using var logits = RunStages(inputs);
            return logits.to(float32);
        }
        using var parts = StepParts(inputs);
        return parts.Gather();
    }

    public bool SplitsVocabulary => Plan.IsVocabParallel;

    public VocabParallelLogits StepParts(IReadOnlyList<StepInput> inputs)
    {
        if (!Plan.IsVocabParallel) throw new InvalidOperationException($"plan {Plan} has no vocabulary parts");
        using var hidden = RunStages(inputs); // [R, D], normalized
        var parts = new List<IVocabPartLogits>(_vocabParts.Length);
        try
        {
            foreach (var shard in _vocabParts)
            {
                long started = Stopwatch.GetTimestamp();
                var logits = shard.PartLogits(hidden);
                Timings?.Add(IndexOf(shard), Stopwatch.GetTimestamp() - started);
                parts.Add(new LocalVocabPartLogits(logits, shard.Network.Shard.Vocab!));
            }
        }
        catch
        {
            foreach (var part in parts) part.Dispose();
            throw;
        }
        return new VocabParallelLogits(parts);
    }

    // The stages in order: the logits [R, V] in the run dtype, or under vocabulary parallelism the last
    // stage's normalized hidden states [R, D].
    Tensor RunStages(IReadOnlyList<StepInput> inputs)
    {
        StepInput.CheckAll(inputs);
        if (Plan.IsSequenceParallel) return RunSequenceParallelStages(inputs);
        var caches = inputs.Select(i => i.Cache is null ? null : i.Cache as ShardedKvCache
            ?? throw new ArgumentException($"a step input's cache is a {i.Cache.GetType().Name}, not one this plan made")).ToList();
        var layout = StepLayout.Of(inputs);
        var current = tensor(layout.TokenIds, int64, _stages[0][0].Device);
        if (Plan.IsVocabParallel)
        {
            using var ids = current;
            current = Embed(ids);
        }
        for (int s = 0; s < _stages.Length; s++)
        {
            int stage = s;
            var input = current;
            long started = Stopwatch.GetTimestamp();
            var outputs = RunRanks(_groups[s], rank =>
            {
                var segments = inputs.Select((item, i) => new BatchSegment(caches[i]?.Shard(stage, rank), item.TokenIds.Count)).ToList();
                return _stages[stage][rank].ForwardShard(input, layout, segments);
            });
            input.Dispose();
            if (Timings is { } timings)
                foreach (var shard in _stages[s]) timings.Add(IndexOf(shard), Stopwatch.GetTimestamp() - started);
            // Every rank ends a stage with the same all-reduced hidden states; rank 0's go on.
            current = outputs[0];
            foreach (var other in outputs.Skip(1)) other.Dispose();
        }
        return current;
    }

    // Every stage's S shards each take their share of the step's tokens: the positions each sequence's cache
    // assigns them (a prompt split into contiguous runs, a decode token to the shard with room). Their attention
    // meets through the stage's exchange; the rows come back together after every stage.
    Tensor RunSequenceParallelStages(IReadOnlyList<StepInput> inputs)
    {
        var caches = inputs.Select(i => i.Cache as SequenceParallelKvCache
            ?? throw new ArgumentException("every input of a sequence-parallel step needs a cache this plan made")).ToList();
        var layout = StepLayout.Of(inputs);
        int shards = Plan.SequenceShards;
        var split = SequenceParallelLayout.Of(inputs, inputs.Select((input, i) => caches[i].Positions.Assign(input.TokenIds.Count)).ToList(), layout);
        var device = _stages[0][0].Device;
        var current = tensor(layout.TokenIds, int64, device);
        if (Plan.IsVocabParallel)
        {
            using var ids = current;
            current = Embed(ids);
        }
        for (int s = 0; s < _stages.Length; s++)
        {
            int stage = s;
            bool last = s == _stages.Length - 1;
            var input = current;
            var groups = InProcessTensorParallelGroup.CreateRanks(shards);
            long started = Stopwatch.GetTimestamp();
            var outputs = RunRanks(groups, q =>
            {
                using var rowIds = tensor(split.Rows(q), int64, device);
                using var shardInput = input.index_select(0, rowIds);
                var segments = inputs.Select((_, i) => new BatchSegment(caches[i].Shard(stage, q), split.Assigned[i][q].Length)).ToList();
                var step = split.StepFor(q, groups[q], caches.Select(c => c.Positions.Of(q)).ToList());
                return _stages[stage][q].ForwardShard(shardInput, new StepLayout([], split.Positions(q), last ? split.LogitRows(q) : []), segments, sequenceParallel: step);
            });
            input.Dispose();
            if (Timings is { } timings)
                foreach (var shard in _stages[s]) timings.Add(IndexOf(shard), Stopwatch.GetTimestamp() - started);
            try
            {
                current = last ? split.LogitsInStepOrder(outputs) : split.HiddenInStepOrder(outputs);
            }
            finally
            {
                foreach (var output in outputs) output.Dispose();
            }
        }
        for (int i = 0; i < inputs.Count; i++) caches[i].Positions.Append(split.Assigned[i]);
        return current;
    }

    // Each part embeds the ids in its range (zero rows elsewhere); exactly one part's row is non-zero for
    // each id, so the sum is the whole table's embedding, bit for bit.
    Tensor Embed(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var device = _stages[0][0].Device;
        Tensor? sum = null;
        foreach (var shard in _vocabParts)
        {
            long started = Stopwatch.GetTimestamp();
            var part = shard.EmbedPart(ids);
            Timings?.Add(IndexOf(shard), Stopwatch.GetTimestamp() - started);
            sum = sum is null ? part.to(device) : sum.add(part.to(device), Scalars.One);
        }
        return sum!.MoveToOuterDisposeScope();
    }

    // Each rank on its own thread. A rank that fails aborts its group, so that the others leave their exchange
    // instead of waiting forever (the plan cannot step again after that: its ranks' caches disagree).
    static Tensor[] RunRanks(IReadOnlyList<ITensorParallelGroup> groups, Func<int, Tensor> forward)
    {
        if (groups.Count == 1) return [forward(0)];
        var tasks = Enumerable.Range(0, groups.Count).Select(rank => Task.Factory.StartNew(() =>
        {
            try
            {
                return forward(rank);
            }
            catch
            {
                (groups[rank] as InProcessTensorParallelGroup)?.Abort();
                throw;
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        try
        {
            Task.WaitAll(tasks);
        }
        catch (AggregateException e)
        {
            foreach (var done in tasks.Where(t => t.IsCompletedSuccessfully)) done.Result.Dispose();
            throw e.InnerExceptions.Count == 1 ? e.InnerExceptions[0] : e;
        }
        return tasks.Select(t => t.Result).ToArray();
    }

    public void Dispose()
    {
        foreach (var shard in AllShards) shard.Dispose();
    }
}
