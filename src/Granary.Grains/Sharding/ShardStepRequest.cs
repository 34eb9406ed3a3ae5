namespace Granary.Grains.Sharding;

/// <summary>
/// One step of one stage, as the router sends it to each rank of the stage: the stage's input (token ids on
/// the first stage, hidden states after), the step's layout, and each sequence's share. A shard keeps a KV
/// cache per <see cref="ShardSegment.SequenceId"/>, made on first sight with the given capacity and rolled
/// back to <see cref="ShardSegment.StartPosition"/> when it holds more (rejected speculative tokens).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShardStepRequest(
    [property: Id(0)] long StepId,
    [property: Id(1)] TensorPayload Input,
    [property: Id(2)] long[] Positions,
    [property: Id(3)] long[] LogitRows,
    [property: Id(4)] ShardSegment[] Segments,
    [property: Id(5)] long[] ReleasedSequences);

[GenerateSerializer, Immutable]
public sealed record ShardSegment(
    [property: Id(0)] long SequenceId,
    [property: Id(1)] int NumTokens,
    [property: Id(2)] int StartPosition,
    [property: Id(3)] int Capacity);
