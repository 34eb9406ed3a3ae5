using System.Net;
using Granary.Server.Api.Auth;
using Granary.Server.Hosting;
using Granary.Server.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Tests.Api;

/// <summary>API keys over HTTP: the /v1 routes need one when keys are configured; health stays open.</summary>
[Collection(GranaryClusterCollection.Name)]
public sealed class ApiKeyTests(GranaryClusterFixture cluster)
{
    const string Completion = $$"""{"model": "{{GranaryClusterFixture.ModelName}}", "prompt": "Hi", "max_tokens": 2}""";

    [Theory]
    [InlineData(null)]
    [InlineData("sk-wrong-key-000")]
    [InlineData("")]
    public async Task MissingOrWrongKey_401InvalidApiKey(string? key)
    {
        OpenAiHttp.AssertError(await cluster.KeyedHttp.GetJsonAsync("/v1/models", key), HttpStatusCode.Unauthorized, param: null, "invalid_api_key");
        OpenAiHttp.AssertError(await cluster.KeyedHttp.PostRawAsync("/v1/completions", Completion, key), HttpStatusCode.Unauthorized, param: null, "invalid_api_key");
        OpenAiHttp.AssertError(await cluster.KeyedHttp.PostRawAsync("/v1/chat/completions", "{}", key), HttpStatusCode.Unauthorized, param: null, "invalid_api_key");
    }

    [Fact]
    public async Task NotABearerToken_401()
    {
        using var request = OpenAiHttp.Request(HttpMethod.Get, "/v1/models", body: null, apiKey: null);
        request.Headers.TryAddWithoutValidation("Authorization", $"Basic {GranaryClusterFixture.ApiKey}");
        using var response = await cluster.KeyedHttp.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task RightKey_200()
    {
        (await cluster.KeyedHttp.GetJsonAsync("/v1/models", GranaryClusterFixture.ApiKey)).Ok();
        var completion = (await cluster.KeyedHttp.PostRawAsync("/v1/completions", Completion, GranaryClusterFixture.ApiKey)).Ok();
        Assert.Equal("text_completion", completion.GetProperty("object").GetString());
    }

    [Fact]
    public async Task HealthEndpoints_NeedNoKey()
    {
        using var live = await cluster.KeyedHttp.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task WithoutConfiguredKeys_NoKeyIsNeeded()
    {
        (await cluster.Http.GetJsonAsync("/v1/models")).Ok();
        (await cluster.Http.GetJsonAsync("/v1/models", "any-key-at-all")).Ok();
    }

    [Fact]
    public async Task Filter_RecordsTheKeysTenantForTheHandler()
    {
        var filter = new ApiKeyEndpointFilter(new ApiKeyRegistry([new ApiKeyOptions { Key = "sk-tenant-b-key", Tenant = "tenant-b" }]));
        var http = new DefaultHttpContext();
        http.Request.Headers.Authorization = "Bearer sk-tenant-b-key";
        string? seen = null;

        await filter.InvokeAsync(new DefaultEndpointFilterInvocationContext(http), context =>
        {
            seen = ApiKeyEndpointFilter.TenantOf(context.HttpContext);
            return ValueTask.FromResult<object?>(null);
        });

        Assert.Equal("tenant-b", seen);
    }
}

/// <summary>The key registry and header parsing the HTTP and gRPC APIs share.</summary>
public sealed class ApiKeyRegistryTests
{
    static readonly ApiKeyRegistry Registry = new(
    [
        new ApiKeyOptions { Key = "sk-alpha-0001", Tenant = "alpha" },
        new ApiKeyOptions { Key = "sk-beta-00002", Tenant = "beta" },
    ]);

    [Fact]
    public void EachKey_MapsToItsTenant()
    {
        Assert.True(Registry.IsEnabled);
        Assert.Equal("alpha", Registry.TenantFor("sk-alpha-0001"));
        Assert.Equal("beta", Registry.TenantFor("sk-beta-00002"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sk-alpha-000")]
    [InlineData("sk-alpha-00011")]
    [InlineData("SK-ALPHA-0001")]
    [InlineData(" sk-alpha-0001")]
    public void OtherKeys_HaveNoTenant(string? key) => Assert.Null(Registry.TenantFor(key));

    [Fact]
    public void NoKeys_IsOpen()
    {
        Assert.False(ApiKeyRegistry.Open.IsEnabled);
        Assert.False(new ApiKeyRegistry([]).IsEnabled);
        Assert.Null(ApiKeyRegistry.Open.TenantFor("anything"));
    }

    [Theory]
    [InlineData("Bearer sk-abc", "sk-abc")]
    [InlineData("bearer sk-abc", "sk-abc")]
    [InlineData("Bearer   sk-abc  ", "sk-abc")]
    [InlineData("Bearer ", null)]
    [InlineData("Basic sk-abc", null)]
    [InlineData("sk-abc", null)]
    [InlineData(null, null)]
    public void BearerToken_Parse(string? header, string? expected) => Assert.Equal(expected, BearerToken.Parse(header));
}
