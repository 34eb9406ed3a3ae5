using Granary.Server.Serving;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Api.OpenAi;

/// <summary>An OpenAI model object; <c>max_model_len</c> is vLLM's extension.</summary>
public sealed record ModelCard(string Id, string Object, long Created, string OwnedBy, int MaxModelLen)
{
    public static ModelCard Of(ModelFrontend model) => new(model.Name, "model", model.Created, "granary", model.ContextLength);
}

public sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

/// <summary>GET /v1/models and GET /v1/models/{id}: the deployments this cluster serves.</summary>
public static class ModelsEndpoint
{
    public static IResult List(ModelGateway gateway) =>
        Results.Json(new ModelList("list", gateway.Models.OrderBy(m => m.Name, StringComparer.Ordinal).Select(ModelCard.Of).ToList()), OpenAiJson.Options);

    public static IResult Get(string id, ModelGateway gateway) => gateway.Find(id) is { } model
        ? Results.Json(ModelCard.Of(model), OpenAiJson.Options)
        : OpenAiError.ModelNotFound(id).ToResult();
}
