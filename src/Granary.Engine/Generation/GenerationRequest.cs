using System.Diagnostics;
using Granary.Abstractions;

namespace Granary.Engine.Generation;

/// <summary>A tokenized prompt and how to continue it.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptTokenIds, SamplingParams Sampling)
{
    /// <summary>Null: no log-probabilities. N: the sampled token's, plus the N most likely at each position.</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>The trace of the caller that submitted it (if traced): the steps that serve it link to it.</summary>
    public ActivityContext? TraceParent { get; init; }

    /// <summary>Who asked (the API key's tenant; null without keys). Cached KV is shared only within a tenant.</summary>
    public string? Tenant { get; init; }

    /// <summary>The agent program (conversation) this turn belongs to, if the client named one.</summary>
    public string? Program { get; init; }

    /// <summary>The client's hint that this turn ends in a call to this tool: the program's KV is pinned until it returns.</summary>
    public string? AwaitingTool { get; init; }
}
