using System.Text;
using Granary.Abstractions;
using Granary.Abstractions.Serving;

namespace Granary.Server.Api.OpenAi;

/// <summary>A whole (non-streamed) request's output, gathered from its chunks.</summary>
public sealed class GenerationOutcome
{
    readonly StringBuilder _text = new();

    public string Text => _text.ToString();

    /// <summary>Null unless the request asked for log-probabilities.</summary>
    public List<PlacedLogprob>? Logprobs { get; private set; }

    public FinishReason? FinishReason { get; private set; }

    /// <summary>Set when the request failed part-way.</summary>
    public ServingError? Error { get; private set; }

    public int PromptTokens { get; private set; }

    public int CompletionTokens { get; private set; }

    public UsageBody Usage => UsageBody.Of(PromptTokens, CompletionTokens);

    public static async Task<GenerationOutcome> CollectAsync(GenerationRun run, CancellationToken cancellationToken)
    {
        var outcome = new GenerationOutcome();
        await foreach (var chunk in run.ReadAllAsync(cancellationToken)) outcome.Add(chunk);
        return outcome;
    }

    void Add(CompletionChunk chunk)
    {
        if (chunk.Error is { } error)
        {
            Error = error;
            return;
        }
        if (chunk.Logprobs is not null) (Logprobs ??= []).AddRange(PlacedLogprob.Place(chunk, _text.Length));
        _text.Append(chunk.Text);
        FinishReason = chunk.FinishReason ?? FinishReason;
        PromptTokens = chunk.PromptTokens;
        CompletionTokens = chunk.CompletionTokens;
    }
}
