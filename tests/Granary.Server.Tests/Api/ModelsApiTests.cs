using System.Net;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Api;

[Collection(GranaryClusterCollection.Name)]
public sealed class ModelsApiTests(GranaryClusterFixture cluster)
{
    [Fact]
    public async Task ListModels_ListsEveryDeploymentAsOpenAiModelObjects()
    {
        var list = (await cluster.Http.GetJsonAsync("/v1/models")).Ok();

        Assert.Equal("list", list.GetProperty("object").GetString());
        var models = list.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(
            new[] { GranaryClusterFixture.GhostModelName, GranaryClusterFixture.ModelName, GranaryClusterFixture.FullModelName }.Order(StringComparer.Ordinal),
            models.Select(m => m.GetProperty("id").GetString()!));
        var tiny = models.Single(m => m.GetProperty("id").GetString() == GranaryClusterFixture.ModelName);
        Assert.Equal("model", tiny.GetProperty("object").GetString());
        Assert.True(tiny.GetProperty("created").GetInt64() > 1_600_000_000);
        Assert.Equal("granary", tiny.GetProperty("owned_by").GetString());
        Assert.Equal(GranaryClusterFixture.ContextLength, tiny.GetProperty("max_model_len").GetInt32());
    }

    [Fact]
    public async Task GetModel_ByIdOr404()
    {
        var tiny = (await cluster.Http.GetJsonAsync($"/v1/models/{GranaryClusterFixture.ModelName}")).Ok();
        Assert.Equal(GranaryClusterFixture.ModelName, tiny.GetProperty("id").GetString());

        OpenAiHttp.AssertError(await cluster.Http.GetJsonAsync("/v1/models/nope"), HttpStatusCode.NotFound, "model", "model_not_found");
    }
}
