namespace Granary.Grains.Sharding;

/// <summary>
/// What a shard answers for one step: the stage's output on rank 0 (hidden states, or logits on the last
/// stage; null on other ranks, and on a stage that pushed it to the next itself), how long its forward took,
/// so the router can tell compute from hops, and the bytes of the output it produced.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShardStepResult(
    [property: Id(0)] TensorPayload? Output,
    [property: Id(1)] double ForwardMs,
    [property: Id(2)] long OutputBytes = 0);
