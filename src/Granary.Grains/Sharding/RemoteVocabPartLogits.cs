using Granary.Model.Sampling;
using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Grains.Sharding;

/// <summary>
/// A vocabulary part's logits of one step, held by its shard grain: the sampler's questions become grain
/// calls (one per question for all rows), and only summaries and token ids come back. Blocking, like
/// <see cref="GrainShardedCausalLm.Step"/>: called from the engine's serving thread.
/// </summary>
public sealed class RemoteVocabPartLogits(IVocabPartGrain shard, long headStepId, VocabRange range) : IVocabPartLogits
{
    public VocabRange Range { get; } = range;

    public IReadOnlyList<VocabPartSummary> Summarize(IReadOnlyList<PartQuery> queries) =>
        GrainShardedCausalLm.Wait(shard.SummarizeLogits(headStepId, queries.Select(PartQueryWire.From).ToArray()))
            .Select(s => s.ToSummary()).ToList();

    public IReadOnlyList<int> Walk(IReadOnlyList<PartWalk> walks) =>
        GrainShardedCausalLm.Wait(shard.WalkLogits(headStepId, walks.Select(PartWalkWire.From).ToArray()));

    public IReadOnlyList<double> LogitsAt(IReadOnlyList<(int Row, int TokenId)> picks) =>
        GrainShardedCausalLm.Wait(shard.LogitsAt(headStepId, picks.Select(p => p.Row).ToArray(), picks.Select(p => p.TokenId).ToArray()));

    public Tensor Read() => GrainShardedCausalLm.Wait(shard.ReadLogits(headStepId)).ToTensor(CPU).to(float32);

    /// <summary>The shard drops a step's logits when the next step's arrive; nothing to free here.</summary>
    public void Dispose()
    {
    }
}
