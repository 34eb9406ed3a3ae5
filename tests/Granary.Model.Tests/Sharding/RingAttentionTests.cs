using Granary.Model.Sharding;
using static TorchSharp.torch;

namespace Granary.Model.Tests.Sharding;

/// <summary>Ring attention and split-KV decode equal full causal attention (within 1e-5) on random tensors, with GQA.</summary>
public sealed class RingAttentionTests
{
    const double Tolerance = 1e-5;
    const int KvHeads = 2, Group = 2, HeadDim = 16;

    // Full causal attention of N queries over N keys in the grouped layout: [Hkv, G*N, Dh].
    static Tensor Reference(Tensor queries, Tensor keys, Tensor values, int n)
    {
        var rows = arange(n).unsqueeze(1);
        var allowed = arange(n).unsqueeze(0).le(rows).repeat(Group, 1);
        var scores = matmul(queries, keys.transpose(1, 2)).masked_fill(allowed.logical_not(), double.NegativeInfinity);
        return matmul(scores.softmax(-1), values);
    }

    // Rows of chunk [start, start + count) for every head of the group: [Hkv, G*count, Dh].
    static Tensor QueryChunk(Tensor queries, int n, int start, int count) =>
        queries.view(KvHeads, Group, n, HeadDim).narrow(2, start, count).reshape(KvHeads, Group * count, HeadDim);

    [Theory]
    [InlineData(new[] { 6, 6 })]
    [InlineData(new[] { 5, 3, 4 })]
    [InlineData(new[] { 1, 7, 2, 3 })]
    [InlineData(new[] { 12 })]
    public void Ring_over_chunks_equals_full_causal_attention(int[] chunkLengths)
    {
        manual_seed(chunkLengths.Length);
        int n = chunkLengths.Sum();
        var queries = randn(KvHeads, Group * n, HeadDim) * 0.5;
        var keys = randn(KvHeads, n, HeadDim);
        var values = randn(KvHeads, n, HeadDim);
        var expected = Reference(queries, keys, values, n);

        var starts = chunkLengths.Select((_, i) => chunkLengths.Take(i).Sum()).ToArray();
        var outputs = RingAttention.Attend(
            starts.Select((s, i) => QueryChunk(queries, n, s, chunkLengths[i])).ToList(),
            starts.Select((s, i) => keys.narrow(1, s, chunkLengths[i])).ToList(),
            starts.Select((s, i) => values.narrow(1, s, chunkLengths[i])).ToList(),
            Group);

        for (int i = 0; i < chunkLengths.Length; i++)
        {
            double difference = (outputs[i] - QueryChunk(expected, n, starts[i], chunkLengths[i])).abs().max().item<float>();
            Assert.True(difference < Tolerance, $"chunk {i}: differs by {difference:G3}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Split_kv_decode_merges_to_the_attention_over_all_keys(int shards)
    {
        manual_seed(shards);
        int n = 23;
        var query = randn(KvHeads, Group, HeadDim) * 0.5; // one new token, every head of the group
        var keys = randn(KvHeads, n, HeadDim);
        var values = randn(KvHeads, n, HeadDim);
        var expected = matmul(matmul(query, keys.transpose(1, 2)).softmax(-1), values);

        (Tensor, Tensor)? merged = null;
        int start = 0;
        for (int s = 0; s < shards; s++)
        {
            int count = n / shards + (s < n % shards ? 1 : 0);
            var partial = PartialAttention.Attend(query, keys.narrow(1, start, count), values.narrow(1, start, count), allowed: null);
            merged = merged is { } m ? PartialAttention.Merge(m, partial) : partial;
            start += count;
        }

        double difference = (merged!.Value.Item1 - expected).abs().max().item<float>();
        Assert.True(difference < Tolerance, $"differs by {difference:G3}");
        var lse = matmul(query, keys.transpose(1, 2)).logsumexp(-1, keepdim: true);
        Assert.True((merged.Value.Item2 - lse).abs().max().item<float>() < Tolerance);
    }

    [Fact]
    public void A_block_with_no_visible_key_contributes_nothing()
    {
        var query = randn(1, 1, 4);
        var keys = randn(1, 3, 4);
        var values = randn(1, 3, 4);
        var seen = PartialAttention.Attend(query, keys, values, allowed: null);
        var empty = PartialAttention.Attend(query, keys, values, allowed: zeros(new long[] { 1, 3 }, dtype: ScalarType.Bool));

        Assert.True(empty.LogSumExp.isneginf().all().item<bool>());
        Assert.Equal(0f, empty.Output.abs().max().item<float>());
        var merged = PartialAttention.Merge(seen, empty);
        Assert.True((merged.Output - seen.Output).abs().max().item<float>() == 0);
    }
}
