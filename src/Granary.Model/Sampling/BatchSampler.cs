using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Sampling;

/// <summary>Picks one token per row of a batch of logits, each row with its own sequence's sampler.</summary>
public static class BatchSampler
{
    /// <summary>logits: [B, V] (any dtype, any device) -> B token ids.</summary>
    public static int[] Sample(Tensor logits, IReadOnlyList<SequenceSampler> samplers)
    {
        if (logits.size(0) != samplers.Count)
            throw new ArgumentException($"{logits.size(0)} logit rows for {samplers.Count} samplers");
        using var scope = NewDisposeScope();
        // Plain greedy rows take one argmax for the whole batch; only the others go row by row.
        long[]? greedyIds = samplers.Any(s => s.IsPlainGreedy) ? logits.argmax(1).cpu().data<long>().ToArray() : null;
        if (samplers.All(s => s.IsPlainGreedy)) return greedyIds!.Select(id => (int)id).ToArray();
        var rows = logits.to(float32).cpu();
        var ids = new int[samplers.Count];
        for (int i = 0; i < samplers.Count; i++)
            ids[i] = samplers[i].IsPlainGreedy ? (int)greedyIds![i] : samplers[i].Sample(rows[i]);
        return ids;
    }
}
