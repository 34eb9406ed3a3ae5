using System.Text.Json.Serialization;
using Granary.Grains.Sharding;
using Granary.Server.Api.OpenAi;
using Granary.Server.Serving;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Api.Cluster;

/// <summary>One shard as GET /v1/cluster shows it.</summary>
public sealed record ShardView(
    [property: JsonPropertyName("stage")] int Stage,
    [property: JsonPropertyName("rank")] int Rank,
    [property: JsonPropertyName("layers")] int[] Layers,
    [property: JsonPropertyName("silo")] string Silo,
    [property: JsonPropertyName("parameter_bytes")] long ParameterBytes,
    [property: JsonPropertyName("sequences")] int NumSequences,
    [property: JsonPropertyName("vocab")] int[]? Vocab)
{
    /// <summary>A vocabulary-only shard shows stage -1 and no layers; <c>vocab</c> is the id range [first, last] a shard holds, if any.</summary>
    public static ShardView Of(ShardReport report) =>
        new(report.Stage, report.Rank, report.LayerEnd > report.LayerStart ? [report.LayerStart, report.LayerEnd - 1] : [], report.Silo,
            report.ParameterBytes, report.NumSequences, report.VocabCount > 0 ? [report.VocabStart, report.VocabStart + report.VocabCount - 1] : null);
}

/// <summary>Where a speculating deployment's draft runs: <c>placement</c> is local, own-slot or co-located.</summary>
public sealed record DraftView(
    [property: JsonPropertyName("placement")] string Placement,
    [property: JsonPropertyName("silo")] string? Silo);

/// <summary>
/// One deployment: its plan, where its router runs, its shards (none when the router holds the whole model), its
/// draft (null without one) and its router's serving lanes (null while loading).
/// </summary>
public sealed record DeploymentView(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("plan")] string Plan,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("router")] string? Router,
    [property: JsonPropertyName("shards")] IReadOnlyList<ShardView> Shards,
    [property: JsonPropertyName("kv_tier")] KvTierView? KvTier = null,
    [property: JsonPropertyName("draft")] DraftView? Draft = null,
    [property: JsonPropertyName("serving_lanes")] int? ServingLanes = null);

/// <summary>A deployment's KV tier: blocks on each tier now, and blocks reused from each so far (absent when the tier is off).</summary>
public sealed record KvTierView(
    [property: JsonPropertyName("blocks")] IReadOnlyDictionary<string, long> Blocks,
    [property: JsonPropertyName("hits")] IReadOnlyDictionary<string, long> Hits)
{
    static readonly string[] Tiers = ["device", "host", "cxl"];

    public static KvTierView? Of(Granary.Abstractions.Serving.DeploymentStatus status) =>
        status.KvTierBlocks.Length != Tiers.Length ? null
            : new(Tiers.Select((t, i) => (t, (long)status.KvTierBlocks[i])).ToDictionary(),
                Tiers.Select((t, i) => (t, status.KvTierHits[i])).ToDictionary());
}

/// <summary>GET /v1/cluster: every deployment's plan and the placement of its shards.</summary>
public static class ClusterEndpoint
{
    public static async Task<IResult> Get(ModelGateway gateway)
    {
        var views = new List<DeploymentView>();
        foreach (var model in gateway.Models.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            string plan = model.Deployment.Plan.ToString();
            try
            {
                var status = await gateway.GetStatus(model.Name);
                var shards = status.IsLoading ? [] : await gateway.GetShards(model.Name);
                views.Add(new DeploymentView(model.Name, plan, status.IsLoading ? "loading" : "ready", status.Host,
                    shards.OrderBy(s => s.Stage).ThenBy(s => s.Rank).Select(ShardView.Of).ToList(), KvTierView.Of(status),
                    status.DraftPlacement is { } placement ? new DraftView(placement, status.DraftHost) : null,
                    status.IsLoading ? null : status.NumServingLanes));
            }
            catch (Exception e)
            {
                views.Add(new DeploymentView(model.Name, plan, $"failed: {e.Message}", null, []));
            }
        }
        return Results.Json(new { deployments = views }, OpenAiJson.Options);
    }
}
