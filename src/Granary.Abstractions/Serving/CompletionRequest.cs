namespace Granary.Abstractions.Serving;

/// <summary>
/// A tokenized request as the API layer hands it to a deployment's router: which model, the prompt's token
/// ids, how to sample, and who asked. Crosses grain calls, so it holds only plain data.
/// </summary>
public sealed record CompletionRequest
{
    /// <summary>The deployment (served model name) that should run it.</summary>
    public required string Model { get; init; }

    public required int[] PromptTokenIds { get; init; }

    public SamplingParams Sampling { get; init; } = new();

    /// <summary>Null: no log-probabilities. N ≥ 0: the sampled token's log-probability plus the N most likely alternatives.</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>The API key's tenant, when keys are configured (later caches are isolated by it).</summary>
    public string? Tenant { get; init; }

    /// <summary>The agent program (conversation) this turn belongs to: its KV is kept and reused per program (within the tenant).</summary>
    public string? Program { get; init; }

    /// <summary>The client's hint that the turn ends in a call to this tool: the program's KV is pinned until it returns.</summary>
    public string? AwaitingTool { get; init; }
}
