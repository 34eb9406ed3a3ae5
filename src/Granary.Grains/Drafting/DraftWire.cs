using Granary.Abstractions;
using Granary.Grains.Sharding;

namespace Granary.Grains.Drafting;

/// <summary>What a draft grain loads: the draft folder, how to run it, and where the placement put it.</summary>
[GenerateSerializer, Immutable]
public sealed record DraftAssignment(
    [property: Id(0)] string Deployment,
    [property: Id(1)] int Generation,
    [property: Id(2)] string DraftDirectory,
    [property: Id(3)] string Device,
    [property: Id(4)] string? DType,
    [property: Id(5)] int VocabTrimTokens,
    [property: Id(6)] bool HasOwnSlot);

/// <summary>
/// One sequence's draft work for a step. <see cref="CacheLength"/> is how many positions the grain's cache for
/// it must hold before this step (the router rolled rejected ones back; the grain truncates to match);
/// <see cref="UnseenTokens"/> follow them. A sampled sequence carries its sampling parameters and one
/// uniform per token, drawn from its own random stream on the router.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DraftRowRequest(
    [property: Id(0)] long SequenceId,
    [property: Id(1)] int Capacity,
    [property: Id(2)] int CacheLength,
    [property: Id(3)] int[] UnseenTokens,
    [property: Id(4)] int NumTokens,
    [property: Id(5)] SamplingParams? Sampling = null,
    [property: Id(6)] double[]? Uniforms = null);

/// <summary>One speculative step's draft work for the whole batch, and the sequences whose caches to free first.</summary>
[GenerateSerializer, Immutable]
public sealed record DraftStepRequest(
    [property: Id(0)] DraftRowRequest[] Rows,
    [property: Id(1)] long[] ReleasedSequences);

/// <summary>One row's proposal: token ids, and for a sampled row the distributions q [k, V] fp32 they were drawn from.</summary>
[GenerateSerializer, Immutable]
public sealed record DraftRowResult(
    [property: Id(0)] int[] TokenIds,
    [property: Id(1)] TensorPayload? ProposalProbabilities);

[GenerateSerializer, Immutable]
public sealed record DraftStepResult(
    [property: Id(0)] DraftRowResult[] Rows,
    [property: Id(1)] double ForwardMs);

/// <summary>What a loaded draft grain reports (for the router's compatibility check, the deployment status and GET /v1/cluster).</summary>
[GenerateSerializer, Immutable]
public sealed record DraftReport(
    [property: Id(0)] string Key,
    [property: Id(1)] string Silo,
    [property: Id(2)] bool HasOwnSlot,
    [property: Id(3)] int VocabSize,
    [property: Id(4)] int MaxPositionEmbeddings,
    [property: Id(5)] long ParameterBytes,
    [property: Id(6)] long KvBytesPerPosition,
    [property: Id(7)] int NumSequences);
