using Granary.Abstractions.Serving;
using Granary.Model.Tokenization;
using static TorchSharp.torch;

namespace Granary.Engine.Scheduling;

/// <summary>
/// Log-probabilities of sampled tokens, for the requests that asked: from the model's raw next-token
/// distribution (before temperature, top-k/top-p and penalties), as vLLM reports them by default.
/// </summary>
public static class LogprobReport
{
    /// <summary>Entry i is null when request i asked for none (<paramref name="topLogprobs"/>[i] null).</summary>
    public static TokenLogprob?[] For(Tensor logits, int[] tokenIds, IReadOnlyList<int?> topLogprobs, TextTokenizer tokenizer)
    {
        var result = new TokenLogprob?[tokenIds.Length];
        if (topLogprobs.All(n => n is null)) return result;
        using var scope = NewDisposeScope();
        var logprobs = logits.to(float32).log_softmax(-1).cpu();
        int maxTop = topLogprobs.Max(n => n ?? 0);
        var (topValues, topIds) = maxTop > 0 ? logprobs.topk(Math.Min(maxTop, (int)logprobs.shape[1])) : (null, null);
        for (int i = 0; i < tokenIds.Length; i++)
        {
            if (topLogprobs[i] is not { } n) continue;
            float chosen = logprobs[i, tokenIds[i]].item<float>();
            var top = new TopLogprob[Math.Min(n, maxTop)];
            for (int j = 0; j < top.Length; j++)
            {
                int id = (int)topIds![i, j].item<long>();
                top[j] = new TopLogprob(id, tokenizer.Decode([id]), topValues![i, j].item<float>());
            }
            result[i] = new TokenLogprob(tokenIds[i], tokenizer.Decode([tokenIds[i]]), chosen, top);
        }
        return result;
    }
}
