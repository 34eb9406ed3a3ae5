namespace Granary.Grains.Sharding;

/// <summary>
/// What one shard grain holds and who its tensor-parallel peers are, decided by the router's placement.
/// <see cref="PeerKeys"/> are the grain keys of every rank of the stage, by rank (this one included);
/// <see cref="PeersShareSilo"/> says they all live in this silo, so all-reduces use the in-process path.
/// Under sequence parallelism <see cref="SequencePeerKeys"/> name the stage's shards that split the sequences.
/// The shard unloads itself when its router has not renewed its <see cref="Lease"/>
/// (<see cref="ShardLeases"/>) for that long; zero: it never does.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShardAssignment(
    [property: Id(0)] string Deployment,
    [property: Id(1)] int Generation,
    [property: Id(2)] string ModelDirectory,
    [property: Id(3)] string Device,
    [property: Id(4)] string? DType,
    [property: Id(5)] int Stage,
    [property: Id(6)] int NumStages,
    [property: Id(7)] int LayerStart,
    [property: Id(8)] int LayerEnd,
    [property: Id(9)] int Rank,
    [property: Id(10)] string[] PeerKeys,
    [property: Id(11)] bool PeersShareSilo,
    [property: Id(12)] int VocabPart = -1,
    [property: Id(13)] int NumVocabParts = 1,
    [property: Id(14)] int SpRank = 0,
    [property: Id(15)] string[]? SequencePeerKeys = null,
    [property: Id(16)] TimeSpan Lease = default)
{
    public int NumRanks => PeerKeys.Length;

    /// <summary>The stage's sequence-parallel shards (1: none); <see cref="SequencePeerKeys"/> are their keys, by sequence rank.</summary>
    public int NumSequenceShards => SequencePeerKeys?.Length ?? 1;

    /// <summary>A shard with no layers, only a vocabulary part (<see cref="Stage"/> -1).</summary>
    public bool IsVocabOnly => Stage < 0;
}

/// <summary>
/// What a loaded shard reports about itself (for `GET /v1/cluster` and tests). Stage -1 is a vocabulary-only
/// shard; <see cref="VocabCount"/> 0 means it holds no vocabulary part.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ShardReport(
    [property: Id(0)] string Key,
    [property: Id(1)] string Silo,
    [property: Id(2)] int Stage,
    [property: Id(3)] int Rank,
    [property: Id(4)] int LayerStart,
    [property: Id(5)] int LayerEnd,
    [property: Id(6)] long ParameterBytes,
    [property: Id(7)] int NumSequences,
    [property: Id(8)] long AllReduceBytesSent,
    [property: Id(9)] long KvBytesPerPosition,
    [property: Id(10)] int VocabStart = 0,
    [property: Id(11)] int VocabCount = 0);
