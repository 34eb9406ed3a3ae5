using Granary.TestKit;
using Granary.Client.Tests.Support;
using Grpc.Core;
using Microsoft.Extensions.AI;

namespace Granary.Client.Tests;

/// <summary>Client behaviour that needs no server.</summary>
public sealed class ClientOptionsTests
{
    [Fact]
    public async Task SafeCalls_AgainstNoServer_FailUnavailableAfterTheirRetries()
    {
        int port = FreePorts.Next();
        using var client = new GranaryClient($"http://127.0.0.1:{port}", new GranaryClientOptions
        {
            MaxAttempts = 3,
            InitialBackoff = TimeSpan.FromMilliseconds(10),
            DefaultDeadline = TimeSpan.FromSeconds(30),
        });

        var health = await Assert.ThrowsAsync<RpcException>(() => client.HealthAsync());
        Assert.Equal(StatusCode.Unavailable, health.StatusCode);
        var models = await Assert.ThrowsAsync<RpcException>(() => client.ListModelsAsync());
        Assert.Equal(StatusCode.Unavailable, models.StatusCode);
    }

    [Fact]
    public void MaxAttempts_BelowOne_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GranaryClient("http://127.0.0.1:1", new GranaryClientOptions { MaxAttempts = 0 }));
    }

    [Fact]
    public async Task ChatClient_WithoutAModel_SaysHowToNameOne()
    {
        using var chat = new GranaryChatClient(new GranaryClient("http://127.0.0.1:1"), ownsClient: true);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => chat.GetResponseAsync("Hello"));
        Assert.Contains("ModelId", error.Message);
    }

    [Fact]
    public void ChatClient_Metadata_NamesProviderAddressAndModel()
    {
        using var client = new GranaryClient("http://127.0.0.1:8001");
        IChatClient chat = new GranaryChatClient(client, "m");

        var metadata = chat.GetService<ChatClientMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal("granary", metadata.ProviderName);
        Assert.Equal(new Uri("http://127.0.0.1:8001"), metadata.ProviderUri);
        Assert.Equal("m", metadata.DefaultModelId);
        Assert.Same(client, chat.GetService<GranaryClient>());
        Assert.Same(chat, chat.GetService<IChatClient>());
    }
}
