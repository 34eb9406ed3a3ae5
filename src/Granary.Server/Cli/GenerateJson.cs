using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Engine.Generation;

namespace Granary.Server.Cli;

/// <summary>The object `granary generate --json` prints.</summary>
internal sealed record GenerateJson(
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("token_ids")] IReadOnlyList<int> TokenIds,
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("finish_reason")] string FinishReason,
    [property: JsonPropertyName("seed")] long Seed,
    [property: JsonPropertyName("plan")] string Plan,
    [property: JsonPropertyName("timings")] GenerateTimingsJson Timings)
{
    public static readonly JsonSerializerOptions Options = new() { WriteIndented = false };

    public static GenerateJson From(GenerationResult result, GenerationTimings timings, double loadMs, ParallelPlan plan) => new(
        result.Text, result.TokenIds, result.PromptTokens, result.FinishReason.ToWireName(), result.Seed, plan.ToString(),
        new GenerateTimingsJson(
            Math.Round(loadMs, 1), Math.Round(timings.PrefillMs, 1), Math.Round(timings.DecodeMs, 1),
            Math.Round(timings.DecodeTokensPerSecond, 2)));
}

internal sealed record GenerateTimingsJson(
    [property: JsonPropertyName("load_ms")] double LoadMs,
    [property: JsonPropertyName("prefill_ms")] double PrefillMs,
    [property: JsonPropertyName("decode_ms")] double DecodeMs,
    [property: JsonPropertyName("decode_tokens_per_s")] double DecodeTokensPerSecond);
