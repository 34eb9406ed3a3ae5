using Granary.Client.Tests.Support;
using Microsoft.Extensions.AI;

namespace Granary.Client.Tests;

/// <summary>Granary through Microsoft.Extensions.AI's <see cref="IChatClient"/>, against a real server.</summary>
[Collection(ServerCollection.Name)]
public sealed class ChatClientTests(ServerFixture fixture)
{
    static readonly ChatMessage[] Conversation = [new(ChatRole.System, "You are terse."), new(ChatRole.User, "Tell me a story.")];

    static ChatOptions Greedy => new() { Temperature = 0, MaxOutputTokens = 12 };

    [Fact]
    public async Task StreamingResponse_HasTextAFinishReasonAndUsage()
    {
        using IChatClient chat = new GranaryChatClient(fixture.NewClient(), ServerFixture.ModelName, ownsClient: true);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(Conversation, Greedy)) updates.Add(update);

        Assert.NotEmpty(string.Concat(updates.Select(u => u.Text)));
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.All(updates, u => Assert.Equal(ServerFixture.ModelName, u.ModelId));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        Assert.All(updates[..^1], u => Assert.Null(u.FinishReason));
        Assert.Contains(updates[^1].FinishReason, new ChatFinishReason?[] { ChatFinishReason.Stop, ChatFinishReason.Length });
        var usage = Assert.Single(updates[^1].Contents.OfType<UsageContent>()).Details;
        Assert.True(usage.InputTokenCount > 0);
        Assert.InRange(usage.OutputTokenCount ?? 0, 1, 12);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
    }

    [Fact]
    public async Task Response_IsTheStreamedUpdatesCombined()
    {
        using IChatClient chat = new GranaryChatClient(fixture.NewClient(), ServerFixture.ModelName, ownsClient: true);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(Conversation, Greedy)) updates.Add(update);
        var response = await chat.GetResponseAsync(Conversation, Greedy);

        Assert.Equal(string.Concat(updates.Select(u => u.Text)), response.Text);
        Assert.Equal(updates[^1].FinishReason, response.FinishReason);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
        Assert.NotNull(response.Usage);
        Assert.Equal(updates[^1].Contents.OfType<UsageContent>().Single().Details.TotalTokenCount, response.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Options_MaxOutputTokensAndModelId_Apply()
    {
        using IChatClient chat = new GranaryChatClient(fixture.NewClient(), ownsClient: true);
        var options = new ChatOptions { ModelId = ServerFixture.ModelName, MaxOutputTokens = 1, Temperature = 0.7f, TopP = 0.9f, TopK = 50, Seed = 3 };

        var response = await chat.GetResponseAsync(Conversation, options);

        Assert.Equal(ServerFixture.ModelName, response.ModelId);
        Assert.Equal(1, response.Usage?.OutputTokenCount);
    }
}
