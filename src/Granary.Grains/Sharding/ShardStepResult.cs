namespace Granary.Grains.Sharding;

/// <summary>
/// What a shard answers for one step: the stage's output on rank 0 (hidden states, or logits on the last
/// stage; null on other ranks), and how long its forward took, so the router can tell compute from hops.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShardStepResult(
    [property: Id(0)] TensorPayload? Output,
    [property: Id(1)] double ForwardMs);
