namespace Granary.Grains.Sharding;

/// <summary>
/// One shard of a deployment's model: a layer range of one pipeline stage, one tensor-parallel rank of it,
/// with the KV caches of those layers and heads; under vocabulary parallelism perhaps also (or only) one
/// range of the vocabulary's embedding and LM head rows, served through <see cref="IVocabPartGrain"/>. Keyed by <see cref="ShardKey"/>, which also pins the silo.
/// </summary>
public interface IShardGrain : IGrainWithStringKey
{
    /// <summary>Loads the shard's weights (slices of the checkpoint) if it has not already.</summary>
    Task Load(ShardAssignment assignment);

    /// <summary>Runs the stage's layers for one step (or one micro-batch of it).</summary>
    Task<ShardStepResult> Forward(ShardStepRequest request);

    /// <summary>A peer rank's partial sum for the all-reduce number <paramref name="callIndex"/> of step <paramref name="stepId"/>.</summary>
    Task AcceptPartial(long stepId, int callIndex, int fromRank, TensorPayload partial);

    Task<ShardReport> Describe();

    /// <summary>Frees the shard (weights, caches and device slot): its deployment has moved to a new placement or ended.</summary>
    Task Unload();

    /// <summary>
    /// Keeps the shard loaded for <paramref name="lease"/> more (<see cref="ShardLeases"/>); a shard whose lease lapses
    /// unloads itself. A <see cref="ShardUnavailableException"/> when the shard holds no weights any more.
    /// </summary>
    Task RenewLease(TimeSpan lease);
}
