using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Granary.Server.Tests.Support;
using OpenAI;
using OpenAI.Chat;

namespace Granary.Server.Tests.EndToEnd;

/// <summary>
/// The whole product as a user runs it: two `granary serve` processes clustered through Redis, called with
/// the official OpenAI .NET SDK. Either silo serves any request (the router grain lives on one of them).
/// </summary>
public sealed class RedisClusterEndToEndTests(RedisClusterFixture cluster) : IClassFixture<RedisClusterFixture>
{
    static ChatClient Chat(string baseUrl, string model = RedisClusterFixture.Model) =>
        new(model, new ApiKeyCredential("not-needed"), new OpenAIClientOptions { Endpoint = new Uri($"{baseUrl}/v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });

    static ChatCompletionOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    [Fact]
    public async Task Chat_is_served_by_either_silo_with_the_same_greedy_answer()
    {
        var answers = new List<ChatCompletion>();
        foreach (var silo in cluster.Silos)
            answers.Add((await Chat(silo.HttpAddress.ToString().TrimEnd('/')).CompleteChatAsync([new UserChatMessage("Say hello")], Greedy(12))).Value);

        foreach (var answer in answers)
        {
            Assert.Equal(ChatFinishReason.Length, answer.FinishReason); // random weights rarely emit EOS within 12 tokens
            Assert.Equal(12, answer.Usage.OutputTokenCount);
            Assert.True(answer.Usage.InputTokenCount > 0);
            Assert.Equal(RedisClusterFixture.Model, answer.Model);
        }
        Assert.Equal(answers[0].Content[0].Text, answers[1].Content[0].Text);
    }

    [Fact]
    public async Task Streaming_chat_delivers_the_same_text_as_the_non_streaming_call()
    {
        var client = Chat(cluster.Silos[1].HttpAddress.ToString().TrimEnd('/'));
        var whole = (await client.CompleteChatAsync([new UserChatMessage("Count to five")], Greedy(16))).Value;

        var streamed = new StringBuilder();
        int updates = 0;
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Count to five")], Greedy(16)))
        {
            updates++;
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }

        Assert.True(updates > 2, $"expected a stream of updates, got {updates}");
        Assert.Equal(whole.Content[0].Text, streamed.ToString());
        Assert.Equal(ChatFinishReason.Length, finish);
    }

    [Fact]
    public async Task Completions_answer_on_both_silos()
    {
        // The official SDK has no client for the legacy /v1/completions endpoint, so this one goes over plain HTTP.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var texts = new List<string>();
        foreach (var silo in cluster.Silos)
        {
            var body = new { model = RedisClusterFixture.Model, prompt = "def add(a, b):", max_tokens = 8, temperature = 0 };
            using var response = await http.PostAsync($"{silo.HttpAddress.ToString().TrimEnd('/')}/v1/completions",
                new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
            string json = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, json);
            using var document = JsonDocument.Parse(json);
            texts.Add(document.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!);
            Assert.Equal(8, document.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
        Assert.Equal(texts[0], texts[1]);
    }

    [Fact]
    public async Task An_unknown_model_is_a_404_the_sdk_reports()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            Chat(cluster.Silos[0].HttpAddress.ToString().TrimEnd('/'), model: "no-such-model").CompleteChatAsync([new UserChatMessage("hi")], Greedy(4)));
        Assert.Equal(404, error.Status);
        Assert.Contains("no-such-model", error.Message);
    }

    [Fact]
    public async Task The_cli_and_the_cluster_agree_on_greedy_text()
    {
        var cli = Cmd.GenerateJson(cluster.ModelDirectory, "def add(a, b):", "--max-tokens", "8", "--temperature", "0");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var body = new { model = RedisClusterFixture.Model, prompt = "def add(a, b):", max_tokens = 8, temperature = 0 };
        using var response = await http.PostAsync($"{cluster.Silos[0].HttpAddress.ToString().TrimEnd('/')}/v1/completions",
            new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(Cmd.Text(cli), document.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
    }
}
