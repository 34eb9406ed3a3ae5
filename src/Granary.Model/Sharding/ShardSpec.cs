using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Model.Configuration;

namespace Granary.Model.Sharding;

/// <summary>
/// Which part of a model one shard holds: decoder layers [<see cref="LayerStart"/>, <see cref="LayerEnd"/>) of
/// pipeline stage <see cref="Stage"/>, and tensor-parallel rank <see cref="TpRank"/> of <see cref="TpSize"/>
/// within them. The last stage holds the final norm (replicated over the stage's ranks). Without
/// vocabulary parallelism the first stage holds the token embedding and the last the LM head; with it,
/// no shard holds them whole: a shard may hold one <see cref="Vocab"/> range of both, and a
/// <see cref="IsVocabOnly"/> shard holds nothing else. Under sequence parallelism a stage's layers are held
/// whole by each of its <see cref="SpSize"/> shards, which split the sequences' positions and KV.
/// </summary>
public sealed record ShardSpec(int Stage, int NumStages, int LayerStart, int LayerEnd, int TpRank, int TpSize, VocabRange? Vocab = null, int NumVocabParts = 1,
    int SpRank = 0, int SpSize = 1)
{
    /// <summary>The whole model on one device.</summary>
    public static ShardSpec Whole(ModelConfig config) => new(0, 1, 0, config.NumLayers, 0, 1);

    /// <summary>A shard with no layers, only vocabulary range <paramref name="vocab"/> (it belongs to no stage).</summary>
    public static ShardSpec VocabOnly(VocabRange vocab, int numStages) => new(-1, numStages, 0, 0, 0, 1, vocab, vocab.NumParts);

    public bool IsFirstStage => Stage == 0;

    public bool IsLastStage => Stage == NumStages - 1;

    public bool IsVocabOnly => Stage < 0;

    /// <summary>Whether the vocabulary is split over shards (then no shard holds the whole embedding or LM head).</summary>
    public bool IsVocabParallel => NumVocabParts > 1;

    /// <summary>Holds the whole token embedding: the first stage of a plan without vocabulary parallelism.</summary>
    public bool HasEmbedding => IsFirstStage && !IsVocabParallel;

    /// <summary>Holds the whole LM head: the last stage of a plan without vocabulary parallelism.</summary>
    public bool HasLmHead => IsLastStage && !IsVocabParallel;

    public int NumLayers => LayerEnd - LayerStart;

    public bool IsWhole => NumStages == 1 && TpSize == 1 && SpSize == 1 && !IsVocabParallel;

    public override string ToString() =>
        IsVocabOnly ? Vocab!.ToString()
        : $"stage {Stage} (layers {LayerStart}-{LayerEnd - 1}) rank {TpRank}/{TpSize}" + (SpSize > 1 ? $" sequence shard {SpRank}/{SpSize}" : "")
            + (Vocab is null ? "" : $", {Vocab}");

    /// <summary>
    /// Every shard of <paramref name="plan"/>: the layer shards stage-major, then any vocabulary-only shards.
    /// Stages get contiguous layer ranges as even as the layer count allows (the first stages take one more
    /// layer when it does not divide). Vocabulary part v goes to the v-th layer shard counted stage-first
    /// (stage 0 rank 0, stage 1 rank 0, …, then rank 1 of each stage), so the parts spread over the pipeline
    /// rather than piling on its ends; parts beyond the layer shards get shards of their own. A user error
    /// names what the model cannot be split by.
    /// </summary>
    public static IReadOnlyList<ShardSpec> ForPlan(ModelConfig config, ParallelPlan plan)
    {
        int stages = plan.PipelineStages, ranks = plan.TensorParallelRanks, sequenceShards = plan.SequenceShards;
        if (ranks > 1 && sequenceShards > 1)
            throw new GranaryUserError($"plan {plan}: tp and sp together are not supported yet; use one of them");
        if (stages > config.NumLayers)
            throw new GranaryUserError($"plan {plan}: pp={stages} needs at least {stages} layers but the model has {config.NumLayers}");
        TensorParallelLayout.Check(config, ranks, $"plan {plan}");
        var specs = new List<ShardSpec>(stages * ranks);
        int start = 0;
        for (int s = 0; s < stages; s++)
        {
            int count = config.NumLayers / stages + (s < config.NumLayers % stages ? 1 : 0);
            for (int q = 0; q < sequenceShards; q++)
                for (int r = 0; r < ranks; r++) specs.Add(new ShardSpec(s, stages, start, start + count, r, ranks, SpRank: q, SpSize: sequenceShards));
            start += count;
        }
        if (!plan.IsVocabParallel) return specs;
        var parts = VocabRange.Split(config.VocabSize, plan.VocabParts);
        for (int i = 0; i < specs.Count; i++) specs[i] = specs[i] with { NumVocabParts = plan.VocabParts };
        foreach (var part in parts)
        {
            int perStage = ranks * sequenceShards;
            if (part.Part >= stages * perStage)
            {
                specs.Add(VocabOnly(part, stages));
                continue;
            }
            int index = part.Part % stages * perStage + part.Part / stages;
            specs[index] = specs[index] with { Vocab = part };
        }
        return specs;
    }
}
