using System.Text;
using Granary.Abstractions.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>/v1/completions log-probabilities: parallel arrays, alternatives as token → logprob maps.</summary>
public sealed record CompletionLogprobs(
    List<string> Tokens, List<float> TokenLogprobs, List<Dictionary<string, float>> TopLogprobs, List<int> TextOffset);

/// <summary>/v1/chat/completions log-probabilities: one entry per sampled token.</summary>
public sealed record ChatLogprobs(List<ChatTokenLogprob> Content);

public sealed record ChatTokenLogprob(string Token, float Logprob, int[] Bytes, List<ChatTopLogprob> TopLogprobs);

public sealed record ChatTopLogprob(string Token, float Logprob, int[] Bytes);

/// <summary>Renders <see cref="TokenLogprob"/>s in the two OpenAI formats.</summary>
public static class LogprobsFormats
{
    // JSON has no -Infinity; vLLM reports impossible tokens with this instead.
    const float MinLogprob = -9999f;

    public static CompletionLogprobs? ForCompletion(IReadOnlyList<PlacedLogprob>? placed, bool tokensAsIds)
    {
        if (placed is null) return null;
        var result = new CompletionLogprobs([], [], [], []);
        foreach (var (logprob, offset) in placed)
        {
            result.Tokens.Add(TokenText(logprob.TokenId, logprob.Token, tokensAsIds));
            result.TokenLogprobs.Add(Finite(logprob.Logprob));
            var top = new Dictionary<string, float>();
            // Two ids can decode to the same text; the more likely one (listed first) keeps the entry.
            foreach (var alternative in logprob.Top)
                top.TryAdd(TokenText(alternative.TokenId, alternative.Token, tokensAsIds), Finite(alternative.Logprob));
            result.TopLogprobs.Add(top);
            result.TextOffset.Add(offset);
        }
        return result;
    }

    public static ChatLogprobs? ForChat(IEnumerable<TokenLogprob>? logprobs, bool tokensAsIds) => logprobs is null
        ? null
        : new ChatLogprobs(logprobs.Select(l => new ChatTokenLogprob(
                TokenText(l.TokenId, l.Token, tokensAsIds), Finite(l.Logprob), Bytes(l.Token),
                l.Top.Select(t => new ChatTopLogprob(TokenText(t.TokenId, t.Token, tokensAsIds), Finite(t.Logprob), Bytes(t.Token))).ToList()))
            .ToList());

    /// <summary>The token's text, or "token_id:N" (vLLM's <c>return_tokens_as_token_ids</c>).</summary>
    static string TokenText(int tokenId, string token, bool tokensAsIds) => tokensAsIds ? $"token_id:{tokenId}" : token;

    static float Finite(float logprob) => float.IsFinite(logprob) ? logprob : MinLogprob;

    static int[] Bytes(string token) => Encoding.UTF8.GetBytes(token).Select(b => (int)b).ToArray();
}
