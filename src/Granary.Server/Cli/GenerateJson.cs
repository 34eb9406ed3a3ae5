using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Engine.Generation;
using Granary.Engine.Speculation;

namespace Granary.Server.Cli;

/// <summary>The object `granary generate --json` prints.</summary>
internal sealed record GenerateJson(
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("token_ids")] IReadOnlyList<int> TokenIds,
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("finish_reason")] string FinishReason,
    [property: JsonPropertyName("seed")] long Seed,
    [property: JsonPropertyName("plan")] string Plan,
    [property: JsonPropertyName("timings")] GenerateTimingsJson Timings,
    [property: JsonPropertyName("speculation"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] SpeculationJson? Speculation)
{
    public static readonly JsonSerializerOptions Options = new() { WriteIndented = false };

    public static GenerateJson From(GenerationResult result, GenerationTimings timings, double loadMs, ParallelPlan plan, SpeculationSnapshot? speculation = null) => new(
        result.Text, result.TokenIds, result.PromptTokens, result.FinishReason.ToWireName(), result.Seed, plan.ToString(),
        new GenerateTimingsJson(
            Math.Round(loadMs, 1), Math.Round(timings.PrefillMs, 1), Math.Round(timings.DecodeMs, 1),
            Math.Round(timings.DecodeTokensPerSecond, 2)),
        speculation is null ? null : SpeculationJson.From(speculation));
}

/// <summary>Speculation counters of one run (present when a draft was used).</summary>
internal sealed record SpeculationJson(
    [property: JsonPropertyName("draft_tokens")] long DraftTokens,
    [property: JsonPropertyName("accepted_tokens")] long AcceptedTokens,
    [property: JsonPropertyName("acceptance_rate")] double AcceptanceRate,
    [property: JsonPropertyName("mean_accepted_length")] double MeanAcceptedLength)
{
    public static SpeculationJson From(SpeculationSnapshot s) =>
        new(s.NumDraftTokens, s.NumAcceptedTokens, Math.Round(s.AcceptanceRate, 4), Math.Round(s.MeanAcceptedLength, 3));
}

internal sealed record GenerateTimingsJson(
    [property: JsonPropertyName("load_ms")] double LoadMs,
    [property: JsonPropertyName("prefill_ms")] double PrefillMs,
    [property: JsonPropertyName("decode_ms")] double DecodeMs,
    [property: JsonPropertyName("decode_tokens_per_s")] double DecodeTokensPerSecond);
