using Orleans.Concurrency;
using Granary.Abstractions.Serving;
using Granary.Grains.Sharding;

namespace Granary.Grains.Routing;

/// <summary>
/// The scheduler of one deployment, keyed by its served model name. Every silo's API layer sends requests
/// here; the router batches them continuously and streams each one's chunks back.
/// </summary>
public interface IRouterGrain : IGrainWithStringKey
{
    /// <summary>Loads the model if it is not loaded yet (readiness), and reports the current load.</summary>
    Task<DeploymentStatus> GetStatus();

    /// <summary>
    /// Runs one request. The first chunk is an error chunk when the request is refused (bad input, queue
    /// full); otherwise chunks arrive as tokens are sampled, the last with a finish reason. Cancelling, or
    /// disposing the enumerator early, stops the sequence and frees its KV.
    /// </summary>
    IAsyncEnumerable<CompletionChunk> Generate(CompletionRequest request, CancellationToken cancellationToken = default);

    /// <summary>Where the deployment's shards are and what each holds (empty when the router holds the whole model).</summary>
    Task<IReadOnlyList<ShardReport>> GetShards();

    /// <summary>
    /// A value unique to the answering activation. A router asks itself through its grain reference before it
    /// places the deployment again: an answer from another activation means the cluster now routes to a duplicate
    /// (the directory entry was lost with a silo), and this one steps down instead of fighting it for the slots.
    /// </summary>
    [AlwaysInterleave]
    Task<Guid> GetActivationToken();
}
