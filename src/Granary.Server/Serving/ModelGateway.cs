using Granary.Abstractions.Serving;
using Granary.Grains.Routing;
using Granary.Grains.Sharding;

namespace Granary.Server.Serving;

/// <summary>
/// The one door the HTTP and gRPC APIs use into the cluster: finds a deployment by name, and sends a
/// tokenized request to its router grain (wherever in the cluster that lives), streaming the chunks back.
/// Works the same in a silo process and in an Orleans client process.
/// </summary>
public sealed class ModelGateway(IGrainFactory grains, IEnumerable<ModelFrontend> models)
{
    readonly Dictionary<string, ModelFrontend> _byName = models.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<ModelFrontend> Models => _byName.Values;

    public ModelFrontend? Find(string? name) => name is null ? null : _byName.GetValueOrDefault(name);

    /// <summary>
    /// Chunks of one request; the first is an error chunk when the deployment refuses it. Cancelling the
    /// token (the client went away) stops the sequence and frees its KV on the router.
    /// </summary>
    public IAsyncEnumerable<CompletionChunk> Generate(CompletionRequest request, CancellationToken cancellationToken) =>
        grains.GetGrain<IRouterGrain>(request.Model).Generate(request, cancellationToken);

    public Task<DeploymentStatus> GetStatus(string model) => grains.GetGrain<IRouterGrain>(model).GetStatus();

    public Task<IReadOnlyList<ShardReport>> GetShards(string model) => grains.GetGrain<IRouterGrain>(model).GetShards();
}
