namespace Granary.Abstractions;

/// <summary>How to pick each next token, and when to stop. Defaults follow vLLM / the OpenAI API.</summary>
public sealed record SamplingParams
{
    /// <summary>0 means greedy (argmax); otherwise logits are divided by it before sampling.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability sums to at least this. 1 disables.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Keep only the K most likely tokens. 0 disables.</summary>
    public int TopK { get; init; }

    /// <summary>HF-style penalty on tokens already in the prompt or output: &gt; 1 discourages repeats. 1 disables.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seed of this request's own random stream; null draws one.</summary>
    public long? Seed { get; init; }

    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 16;

    /// <summary>Strings that end generation; the stop string itself is not returned.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Keep generating past end-of-sequence tokens (benchmarks).</summary>
    public bool IgnoreEos { get; init; }

    public bool IsGreedy => Temperature == 0;

    /// <summary>Temperature bounds (besides 0): outside them the scaled logits leave fp32's range.</summary>
    public const double MinTemperature = 1e-5;

    public const double MaxTemperature = 1e4;

    /// <summary>Repetition penalty bounds, for the same reason.</summary>
    public const double MinRepetitionPenalty = 1e-4;

    public const double MaxRepetitionPenalty = 1e4;

    /// <summary>Returns the first problem with these parameters, naming the field, or null.</summary>
    public string? Validate()
    {
        // NOTE: the bounds keep every logit finite in fp32 (logits / temperature, logits * or / the penalty):
        // one NaN probability fails the whole batched step, every request in it with it.
        if (double.IsNaN(Temperature) || Temperature < 0) return $"temperature must be >= 0 (got {Temperature})";
        if (Temperature > MaxTemperature || Temperature is > 0 and < MinTemperature)
            return $"temperature must be 0 (greedy) or in [{MinTemperature}, {MaxTemperature}] (got {Temperature})";
        if (double.IsNaN(TopP) || TopP <= 0 || TopP > 1) return $"top_p must be in (0, 1] (got {TopP})";
        if (TopK < 0) return $"top_k must be >= 0 (got {TopK})";
        if (double.IsNaN(RepetitionPenalty) || RepetitionPenalty <= 0) return $"repetition_penalty must be > 0 (got {RepetitionPenalty})";
        if (RepetitionPenalty is < MinRepetitionPenalty or > MaxRepetitionPenalty)
            return $"repetition_penalty must be in [{MinRepetitionPenalty}, {MaxRepetitionPenalty}] (got {RepetitionPenalty})";
        if (MaxTokens < 1) return $"max_tokens must be >= 1 (got {MaxTokens})";
        return null;
    }
}
