using System.Runtime.CompilerServices;
using Granary.Abstractions.Serving;
using Granary.Grains.Routing;
using Granary.Grains.Sharding;
using Granary.Server.Telemetry;

namespace Granary.Server.Serving;

/// <summary>
/// The one door the HTTP and gRPC APIs use into the cluster: finds a deployment by name, and sends a
/// tokenized request to its router grain (wherever in the cluster that lives), streaming the chunks back.
/// Works the same in a silo process and in an Orleans client process. Every request is timed and traced
/// here, so each API (and the serve benchmark) is measured the same way.
/// </summary>
public sealed class ModelGateway(IGrainFactory grains, IEnumerable<ModelFrontend> models, ServingMetrics metrics)
{
    readonly Dictionary<string, ModelFrontend> _byName = models.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<ModelFrontend> Models => _byName.Values;

    public ModelFrontend? Find(string? name) => name is null ? null : _byName.GetValueOrDefault(name);

    /// <summary>How requests wait for a deployment that lost a silo (mid-stream failover).</summary>
    public ResumeOptions Resume { get; init; } = new();

    /// <summary>
    /// Chunks of one request; the first is an error chunk when the deployment refuses it. Cancelling the
    /// token (the client went away) stops the sequence and frees its KV on the router. When the deployment
    /// becomes unavailable mid-request, the request is resumed (<see cref="ResumableGeneration"/>).
    /// </summary>
    public async IAsyncEnumerable<CompletionChunk> Generate(CompletionRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var activity = GranaryTracing.StartGenerate(request);
        var timing = metrics.StartRequest(request.Model);
        var resumable = new ResumableGeneration(SendToRouter, WaitUntilReadyAsync, Find(request.Model)?.Tokenizer, Resume);
        await foreach (var chunk in resumable.RunAsync(request, cancellationToken).WithCancellation(cancellationToken))
        {
            timing.Observe(chunk);
            GranaryTracing.RecordChunk(activity, chunk);
            yield return chunk;
        }
    }

    IAsyncEnumerable<CompletionChunk> SendToRouter(CompletionRequest request, CancellationToken cancellationToken) =>
        grains.GetGrain<IRouterGrain>(request.Model).Generate(request, cancellationToken);

    /// <summary>Returns once the deployment's router answers and has its model (re)loaded.</summary>
    async Task WaitUntilReadyAsync(string model, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                if (!(await GetStatus(model).WaitAsync(cancellationToken)).IsLoading) return;
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
    }

    public Task<DeploymentStatus> GetStatus(string model) => grains.GetGrain<IRouterGrain>(model).GetStatus();

    public Task<IReadOnlyList<ShardReport>> GetShards(string model) => grains.GetGrain<IRouterGrain>(model).GetShards();
}
