using System.Text;
using System.Text.Json;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Api;

/// <summary>POST /v1/chat/completions against a two-silo cluster: the chat template, content parts, logprobs, streaming.</summary>
[Collection(GranaryClusterCollection.Name)]
public sealed class ChatCompletionsApiTests(GranaryClusterFixture cluster)
{
    const string Model = GranaryClusterFixture.ModelName;
    const string UserText = "Tell me a story";

    Task<JsonReply> Chat(string json) => cluster.Http.PostRawAsync("/v1/chat/completions", json);

    static string Messages(string content) => $$"""[{"role": "user", "content": {{content}}}]""";

    [Fact]
    public async Task Greedy_SameTokensAsGranaryGenerateChat()
    {
        var expected = Cmd.GenerateJson(cluster.ModelDir, UserText, "--chat", "--temperature", "0", "--max-tokens", "10");

        var completion = (await Chat($$"""
            {"model": "{{Model}}", "messages": {{Messages($"\"{UserText}\"")}}, "max_tokens": 10, "temperature": 0,
             "logprobs": true, "return_tokens_as_token_ids": true}
            """)).Ok();

        var content = completion.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray();
        Assert.Equal(Cmd.TokenIds(expected), content.Select(c => OpenAiHttp.TokenId(c.GetProperty("token").GetString()!)));
        Assert.Equal(Cmd.Text(expected), OpenAiHttp.ChatText(completion));
        Assert.Equal(Cmd.FinishReason(expected), OpenAiHttp.FinishReason(completion));
        Assert.Equal(expected.GetProperty("prompt_tokens").GetInt32(), completion.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.StartsWith("chatcmpl-", completion.GetProperty("id").GetString());
        Assert.Equal("chat.completion", completion.GetProperty("object").GetString());
        Assert.Equal("assistant", completion.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString());
    }

    [Fact]
    public async Task TextContentParts_SameAsPlainString()
    {
        string[] contents =
        [
            "\"first line\\nsecond line\"",
            """[{"type": "text", "text": "first line"}, {"type": "text", "text": "second line"}]""",
        ];
        var replies = new List<JsonElement>();
        foreach (string content in contents)
            replies.Add((await Chat($$"""
                {"model": "{{Model}}", "messages": {{Messages(content)}}, "max_tokens": 8, "temperature": 0}
                """)).Ok());

        Assert.Equal(OpenAiHttp.ChatText(replies[0]), OpenAiHttp.ChatText(replies[1]));
        Assert.Equal(replies[0].GetProperty("usage").GetRawText(), replies[1].GetProperty("usage").GetRawText());
    }

    [Fact]
    public async Task SystemAndAssistantTurns_AreAccepted()
    {
        var completion = (await Chat($$"""
            {"model": "{{Model}}", "max_tokens": 4, "temperature": 0, "ignore_eos": true, "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "And now?"}]}
            """)).Ok();

        Assert.Equal(4, completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task MaxCompletionTokens_LimitsTheReply_FinishReasonLength()
    {
        var completion = (await Chat($$"""
            {"model": "{{Model}}", "messages": {{Messages("\"Hi\"")}}, "max_completion_tokens": 3, "max_tokens": 50,
             "temperature": 0, "ignore_eos": true}
            """)).Ok();

        Assert.Equal(3, completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", OpenAiHttp.FinishReason(completion));
    }

    [Fact]
    public async Task Logprobs_OpenAiShape()
    {
        var completion = (await Chat($$"""
            {"model": "{{Model}}", "messages": {{Messages("\"Hi\"")}}, "max_tokens": 5, "temperature": 0, "ignore_eos": true,
             "logprobs": true, "top_logprobs": 2}
            """)).Ok();

        var content = completion.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(5, content.Count);
        foreach (var entry in content)
        {
            string token = entry.GetProperty("token").GetString()!;
            float logprob = entry.GetProperty("logprob").GetSingle();
            Assert.True(logprob <= 0);
            Assert.Equal(Encoding.UTF8.GetBytes(token).Select(b => (int)b), entry.GetProperty("bytes").EnumerateArray().Select(b => b.GetInt32()));
            var top = entry.GetProperty("top_logprobs").EnumerateArray().ToList();
            Assert.Equal(2, top.Count);
            Assert.All(top, t => Assert.Equal(JsonValueKind.Array, t.GetProperty("bytes").ValueKind));
            Assert.True(top[0].GetProperty("logprob").GetSingle() >= top[1].GetProperty("logprob").GetSingle());
            Assert.Equal(top[0].GetProperty("logprob").GetSingle(), logprob, 4); // greedy: the sampled token is the best
        }

        var withoutLogprobs = (await Chat($$"""
            {"model": "{{Model}}", "messages": {{Messages("\"Hi\"")}}, "max_tokens": 2, "temperature": 0}
            """)).Ok();
        Assert.Equal(JsonValueKind.Null, withoutLogprobs.GetProperty("choices")[0].GetProperty("logprobs").ValueKind);
    }

    [Fact]
    public async Task Streaming_FirstChunkOpensTheAssistantRole_EndsWithDone()
    {
        const string request = $$"""
            {"model": "{{Model}}", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "temperature": 0, "ignore_eos": true}
            """;
        var whole = (await Chat(request)).Ok();

        var stream = await cluster.Http.StreamAsync("/v1/chat/completions", request);

        Assert.Equal("text/event-stream", stream.ContentType);
        Assert.Equal("[DONE]", stream.Events[^1]);
        var events = stream.JsonEvents;
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.All(events, e => Assert.False(e.TryGetProperty("usage", out _), "no usage without stream_options.include_usage"));
        Assert.Single(events.Select(e => e.GetProperty("id").GetString()).Distinct());
        Assert.StartsWith("chatcmpl-", events[0].GetProperty("id").GetString());
        var deltas = events.Select(e => e.GetProperty("choices")[0].GetProperty("delta")).ToList();
        Assert.Equal("assistant", deltas[0].GetProperty("role").GetString());
        Assert.All(deltas.Skip(1), d => Assert.False(d.TryGetProperty("role", out _)));
        string streamed = string.Concat(deltas.Select(d => d.TryGetProperty("content", out var c) ? c.GetString() : ""));
        Assert.Equal(OpenAiHttp.ChatText(whole), streamed);
        Assert.Equal("length", events[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(events.SkipLast(1), e => Assert.Equal(JsonValueKind.Null, e.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
    }

    [Fact]
    public async Task Streaming_IncludeUsage_LastChunkHasUsageAndNoChoices()
    {
        var stream = await cluster.Http.StreamAsync("/v1/chat/completions", $$"""
            {"model": "{{Model}}", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0,
             "ignore_eos": true, "stream_options": {"include_usage": true}, "logprobs": true }
            """);

        var events = stream.JsonEvents;
        var last = events[^1];
        Assert.Empty(last.GetProperty("choices").EnumerateArray());
        Assert.Equal(4, last.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.True(last.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 0);
        // Logprobs stream with their tokens: one entry per sampled token over all chunks.
        int numLogprobs = events.SkipLast(1)
            .Select(e => e.GetProperty("choices")[0].GetProperty("logprobs"))
            .Where(l => l.ValueKind == JsonValueKind.Object)
            .Sum(l => l.GetProperty("content").GetArrayLength());
        Assert.Equal(4, numLogprobs);
    }
}
