namespace Granary.Server.Api.OpenAi;

/// <summary>Token counts of one request, as every OpenAI response reports them.</summary>
public sealed record UsageBody(int PromptTokens, int CompletionTokens, int TotalTokens)
{
    public static UsageBody Of(int promptTokens, int completionTokens) => new(promptTokens, completionTokens, promptTokens + completionTokens);
}
