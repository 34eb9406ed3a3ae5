using System.Text.Json;
using Granary.Abstractions;

namespace Granary.Server.Api.OpenAi;

/// <summary>
/// The sampling and stopping fields of a request, checked one by one so that each error names its field
/// (the OpenAI error's <c>param</c>), then gathered into <see cref="SamplingParams"/>.
/// </summary>
public static class SamplingFields
{
    /// <summary>The most alternatives per position a request may ask for (OpenAI's limit).</summary>
    public const int MaxTopLogprobs = 20;

    /// <param name="maxTokens">The requested limit and the field it came from; null value: <paramref name="defaultMaxTokens"/>.</param>
    public static SamplingParams Read(GenerationRequestBody body, (int? Value, string Param) maxTokens, int defaultMaxTokens)
    {
        if (body.N is { } n && n != 1) throw Invalid($"Only n = 1 is supported (got {n})", "n");
        if (body.Temperature is { } temperature && !(temperature >= 0))
            throw Invalid($"temperature must be >= 0 (got {temperature})", "temperature");
        if (body.TopP is { } topP && !(topP > 0 && topP <= 1))
            throw Invalid($"top_p must be in (0, 1] (got {topP})", "top_p");
        if (body.TopK is < -1) throw Invalid($"top_k must be -1 (off), 0 (off) or >= 1 (got {body.TopK})", "top_k");
        if (body.RepetitionPenalty is { } penalty && !(penalty > 0))
            throw Invalid($"repetition_penalty must be > 0 (got {penalty})", "repetition_penalty");
        if (maxTokens.Value is < 1) throw Invalid($"{maxTokens.Param} must be >= 1 (got {maxTokens.Value})", maxTokens.Param);

        var sampling = new SamplingParams
        {
            Temperature = body.Temperature ?? 1.0,
            TopP = body.TopP ?? 1.0,
            TopK = Math.Max(0, body.TopK ?? 0),
            RepetitionPenalty = body.RepetitionPenalty ?? 1.0,
            Seed = body.Seed,
            MaxTokens = maxTokens.Value ?? defaultMaxTokens,
            Stop = ReadStop(body.Stop),
            IgnoreEos = body.IgnoreEos ?? false,
        };
        // The rules above are the common mistakes; SamplingParams owns the rest (finite bounds), and its
        // messages start with the field's name.
        if (sampling.Validate() is { } problem) throw Invalid(problem, problem.Split(' ')[0]);
        return sampling;
    }

    /// <summary>A log-probability count in 0..20, or a 400 naming <paramref name="param"/>.</summary>
    public static int CheckTopLogprobs(int count, string param) => count is >= 0 and <= MaxTopLogprobs
        ? count
        : throw Invalid($"{param} must be between 0 and {MaxTopLogprobs} (got {count})", param);

    static IReadOnlyList<string> ReadStop(JsonElement? stop)
    {
        if (stop is not { } element || element.ValueKind == JsonValueKind.Null) return [];
        if (element.ValueKind == JsonValueKind.String) return [NonEmpty(OpenAiJson.Text(element, "stop"))];
        if (element.ValueKind != JsonValueKind.Array) throw Invalid("stop must be a string or an array of strings", "stop");
        return element.EnumerateArray()
            .Select(item => item.ValueKind == JsonValueKind.String
                ? NonEmpty(OpenAiJson.Text(item, "stop"))
                : throw Invalid("stop must be a string or an array of strings", "stop"))
            .ToArray();
    }

    static string NonEmpty(string stop) => stop.Length > 0 ? stop : throw Invalid("stop strings must not be empty", "stop");

    static OpenAiRequestException Invalid(string message, string? param) => OpenAiRequestException.Invalid(message, param);
}
