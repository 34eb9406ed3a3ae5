using Granary.Server.Api.Limits;

namespace Granary.Server.Api.OpenAi;

/// <summary>The server's <see cref="RequestLimits"/> as 400s naming the field and the limit.</summary>
public static class LimitChecks
{
    public static void Prompt(RequestLimits limits, int[] prompt, string param)
    {
        if (limits.CheckPrompt(prompt.Length) is { } exceeded) throw OpenAiRequestException.Invalid(exceeded.Message, param, exceeded.Code);
    }

    /// <summary>Checks a max_tokens the client gave (null: none given, the default applies).</summary>
    public static void MaxTokens(RequestLimits limits, (int? Value, string Param) maxTokens)
    {
        if (maxTokens.Value is { } requested && limits.CheckMaxTokens(requested) is { } exceeded)
            throw OpenAiRequestException.Invalid(exceeded.Message, maxTokens.Param, exceeded.Code);
    }
}
