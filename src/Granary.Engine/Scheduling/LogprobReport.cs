using Granary.Abstractions.Serving;
using Granary.Model.Sampling;
using Granary.Model.Tokenization;
using static TorchSharp.torch;

namespace Granary.Engine.Scheduling;

/// <summary>
/// Log-probabilities of sampled tokens, for the requests that asked: from the model's raw next-token
/// distribution (before temperature, top-k/top-p and penalties), as vLLM reports them by default; from whole
/// logits, or gather-free from vocabulary parts.
/// </summary>
public static class LogprobReport
{
    /// <summary>The same from logits left in vocabulary parts (<see cref="PartitionedLogprobs"/>): row <paramref name="rows"/>[i] for request i.</summary>
    public static TokenLogprob?[] For(VocabParallelLogits parts, IReadOnlyList<int> rows, int[] tokenIds, IReadOnlyList<int?> topLogprobs, TextTokenizer tokenizer) =>
        PartitionedLogprobs.For(parts.Parts, rows, tokenIds, topLogprobs)
            .Select((entry, i) => entry is not { } e ? null : new TokenLogprob(tokenIds[i], tokenizer.Decode([tokenIds[i]]), (float)e.Chosen,
                e.Top.Select(t => new TopLogprob(t.Id, tokenizer.Decode([t.Id]), (float)t.Logprob)).ToArray()))
            .ToArray();

    /// <summary>Entry i is null when request i asked for none (<paramref name="topLogprobs"/>[i] null).</summary>
    public static TokenLogprob?[] For(Tensor logits, int[] tokenIds, IReadOnlyList<int?> topLogprobs, TextTokenizer tokenizer)
    {
        var result = new TokenLogprob?[tokenIds.Length];
        if (topLogprobs.All(n => n is null)) return result;
        using var scope = NewDisposeScope();
        var logprobs = logits.to(float32).log_softmax(-1).cpu();
        // Read everything out in a few bulk copies: one tensor op per element would cost microseconds each.
        using var chosenIds = tensor(tokenIds.Select(id => (long)id).ToArray()).unsqueeze(1);
        float[] chosen = logprobs.gather(1, chosenIds).data<float>().ToArray();
        int width = Math.Min(topLogprobs.Max(n => n ?? 0), (int)logprobs.shape[1]);
        float[] topValues = [];
        long[] topIds = [];
        if (width > 0)
        {
            var (values, ids) = logprobs.topk(width);
            topValues = values.data<float>().ToArray();
            topIds = ids.data<long>().ToArray();
        }
        for (int i = 0; i < tokenIds.Length; i++)
        {
            if (topLogprobs[i] is not { } n) continue;
            var top = new TopLogprob[Math.Min(n, width)];
            for (int j = 0; j < top.Length; j++)
            {
                int id = (int)topIds[i * width + j];
                top[j] = new TopLogprob(id, tokenizer.Decode([id]), topValues[i * width + j]);
            }
            result[i] = new TokenLogprob(tokenIds[i], tokenizer.Decode([tokenIds[i]]), chosen[i], top);
        }
        return result;
    }
}
