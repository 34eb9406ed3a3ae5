using Granary.Abstractions.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>A sampled token's log-probabilities and where its text starts in the completion.</summary>
public sealed record PlacedLogprob(TokenLogprob Logprob, int TextOffset)
{
    /// <summary>The chunk's tokens placed from <paramref name="textOffset"/> on (a chunk's text is its tokens' text).</summary>
    public static List<PlacedLogprob> Place(CompletionChunk chunk, int textOffset)
    {
        var placed = new List<PlacedLogprob>();
        foreach (var logprob in chunk.Logprobs ?? [])
        {
            placed.Add(new PlacedLogprob(logprob, textOffset));
            textOffset = Math.Min(textOffset + logprob.Token.Length, textOffset + chunk.Text.Length);
        }
        return placed;
    }
}
