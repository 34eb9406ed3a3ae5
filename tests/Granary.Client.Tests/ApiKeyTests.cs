using Granary.Client.Tests.Support;
using Granary.Grpc.V1;
using Grpc.Core;

namespace Granary.Client.Tests;

/// <summary>A server with API keys configured (GRANARY__APIKEYS__0__KEY): every call but Health needs one.</summary>
public sealed class ApiKeyTests(ApiKeyServerFixture fixture) : IClassFixture<ApiKeyServerFixture>
{
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key-0123456789")]
    public async Task WithoutTheKey_CallsAreUnauthenticated(string? key)
    {
        using var client = fixture.NewClient(new GranaryClientOptions { ApiKey = key, DefaultDeadline = Deadline });

        var list = await Assert.ThrowsAsync<RpcException>(() => client.ListModelsAsync());
        Assert.Equal(StatusCode.Unauthenticated, list.StatusCode);
        var generate = await Assert.ThrowsAsync<RpcException>(() => Generate(client));
        Assert.Equal(StatusCode.Unauthenticated, generate.StatusCode);
    }

    [Fact]
    public async Task WithTheKey_CallsSucceed()
    {
        using var client = fixture.NewClient(new GranaryClientOptions { ApiKey = ApiKeyServerFixture.Key, DefaultDeadline = Deadline });

        Assert.Equal(ServerFixture.ModelName, Assert.Single(await client.ListModelsAsync()).Name);
        Assert.Equal(FinishReason.Length, await Generate(client));
    }

    [Fact]
    public async Task Health_NeedsNoKey()
    {
        using var client = fixture.NewClient(new GranaryClientOptions { DefaultDeadline = Deadline });

        Assert.True((await client.HealthAsync()).Ready);
    }

    static async Task<FinishReason> Generate(GranaryClient client)
    {
        var last = FinishReason.Unspecified;
        var sampling = new SamplingParams { MaxTokens = 3, Temperature = 0, IgnoreEos = true };
        await foreach (var chunk in client.GenerateStreamingAsync(ServerFixture.ModelName, "Hello", sampling)) last = chunk.FinishReason;
        return last;
    }
}
