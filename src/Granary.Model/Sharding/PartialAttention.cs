using Granary.Model.Runtime;
using static TorchSharp.torch;

namespace Granary.Model.Sharding;

/// <summary>
/// Attention over one block of keys, kept as (output, log-sum-exp) so that blocks attended separately (ring
/// attention's K/V blocks, split-KV decode's shards) merge into exactly the attention over all of them: the
/// online-softmax rule, lse = log(e^lse1 + e^lse2), out = out1 e^(lse1 - lse) + out2 e^(lse2 - lse).
/// Shapes follow the model's grouped layout: queries [Hkv, G*n, Dh] (already scaled), keys/values
/// [Hkv, L, Dh]; a query row with no visible key in the block has lse = -inf and output 0.
/// </summary>
public static class PartialAttention
{
    /// <param name="allowed">[G*n, L] or broadcastable, true where a query may see a key; null: every key.</param>
    public static (Tensor Output, Tensor LogSumExp) Attend(Tensor queries, Tensor keys, Tensor values, Tensor? allowed)
    {
        using var scope = NewDisposeScope();
        var scores = matmul(queries, keys.transpose(1, 2)).to(float32);          // [Hkv, G*n, L]
        if (allowed is not null) scores = scores.masked_fill(allowed.logical_not(), Scalars.NegativeInfinity);
        var lse = scores.logsumexp(-1, keepdim: true);                           // [Hkv, G*n, 1]
        var safeLse = lse.masked_fill(lse.isneginf(), Scalars.Zero);
        var probs = scores.sub(safeLse).exp();                                    // 0 where masked, rows of empty blocks all 0
        var output = matmul(probs.to(values.dtype), values);                     // [Hkv, G*n, Dh]
        return (output.MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope());
    }

    /// <summary>The attention over the union of two disjoint key blocks, from each block's partial.</summary>
    public static (Tensor Output, Tensor LogSumExp) Merge((Tensor Output, Tensor LogSumExp) a, (Tensor Output, Tensor LogSumExp) b)
    {
        using var scope = NewDisposeScope();
        var lse = logaddexp(a.LogSumExp, b.LogSumExp);
        var safeLse = lse.masked_fill(lse.isneginf(), Scalars.Zero);
        var weightA = a.LogSumExp.sub(safeLse).exp();   // exp(-inf) = 0 for an empty side
        var weightB = b.LogSumExp.sub(safeLse).exp();
        var output = (a.Output.to(float32) * weightA).add(b.Output.to(float32) * weightB, Scalars.One);
        return (output.to(a.Output.dtype).MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope());
    }
}
