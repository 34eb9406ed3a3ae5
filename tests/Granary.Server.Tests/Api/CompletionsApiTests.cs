using System.Text.Json;
using Granary.Model.Tokenization;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Api;

/// <summary>POST /v1/completions against a two-silo cluster: exact greedy output, stop strings, prompts as ids, logprobs, streaming.</summary>
[Collection(GranaryClusterCollection.Name)]
public sealed class CompletionsApiTests(GranaryClusterFixture cluster)
{
    const string Model = GranaryClusterFixture.ModelName;
    const string Prompt = "Once upon a time";

    Task<JsonReply> Complete(string json) => cluster.Http.PostRawAsync("/v1/completions", json);

    [Fact]
    public async Task Greedy_SameTokensAndTextAsGranaryGenerate()
    {
        var expected = Cmd.GenerateJson(cluster.ModelDir, Prompt, "--temperature", "0", "--max-tokens", "12");

        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var completion = (await Complete($$"""
            {"model": "{{Model}}", "prompt": "{{Prompt}}", "max_tokens": 12, "temperature": 0,
             "logprobs": 0, "return_tokens_as_token_ids": true}
            """)).Ok();

        Assert.Equal(Cmd.TokenIds(expected), OpenAiHttp.CompletionTokenIds(completion));
        Assert.Equal(Cmd.Text(expected), OpenAiHttp.Text(completion));
        Assert.Equal(Cmd.FinishReason(expected), OpenAiHttp.FinishReason(completion));
        Assert.StartsWith("cmpl-", completion.GetProperty("id").GetString());
        Assert.Equal("text_completion", completion.GetProperty("object").GetString());
        Assert.Equal(Model, completion.GetProperty("model").GetString());
        Assert.InRange(completion.GetProperty("created").GetInt64(), before, before + 60);
        var choice = Assert.Single(completion.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        var usage = completion.GetProperty("usage");
        Assert.Equal(expected.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(Cmd.TokenIds(expected).Length, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(),
            usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task MaxTokensReached_FinishReasonLength()
    {
        var completion = (await Complete($$"""
            {"model": "{{Model}}", "prompt": "{{Prompt}}", "max_tokens": 5, "temperature": 0, "ignore_eos": true}
            """)).Ok();

        Assert.Equal("length", OpenAiHttp.FinishReason(completion));
        Assert.Equal(5, completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task StopString_TextEndsBeforeIt_FinishReasonStop()
    {
        string full = OpenAiHttp.Text((await Complete($$"""
            {"model": "{{Model}}", "prompt": "{{Prompt}}", "max_tokens": 24, "temperature": 0, "ignore_eos": true}
            """)).Ok());
        var (stop, index) = PickStopString(full);

        foreach (string stopField in new[] { JsonSerializer.Serialize(stop), JsonSerializer.Serialize(new[] { "\u0001never\u0002", stop }) })
        {
            var stopped = (await Complete($$"""
                {"model": "{{Model}}", "prompt": "{{Prompt}}", "max_tokens": 24, "temperature": 0, "ignore_eos": true, "stop": {{stopField}}}
                """)).Ok();
            Assert.Equal(full[..index], OpenAiHttp.Text(stopped));
            Assert.Equal("stop", OpenAiHttp.FinishReason(stopped));
        }
    }

    /// <summary>A two-character piece of the greedy text, away from its start, and where it first occurs.</summary>
    static (string Stop, int Index) PickStopString(string text)
    {
        for (int k = 3; k + 2 <= text.Length; k++)
        {
            string candidate = text.Substring(k, 2);
            if (candidate.Contains('\uFFFD') || char.IsSurrogate(candidate[0]) || char.IsSurrogate(candidate[1])) continue;
            int first = text.IndexOf(candidate, StringComparison.Ordinal);
            if (first >= 2) return (candidate, first);
        }
        throw new Xunit.Sdk.XunitException($"no usable stop string in {JsonSerializer.Serialize(text)}");
    }

    [Fact]
    public async Task PromptAsTokenIdsOrOneStringArray_SameAsText()
    {
        var tokenizer = TextTokenizer.Load(cluster.ModelDir);
        int[] promptIds = tokenizer.Encode(Prompt, addBos: tokenizer.AddBosToken).ToArray();
        string[] prompts = [$"\"{Prompt}\"", $"[\"{Prompt}\"]", JsonSerializer.Serialize(promptIds)];

        var completions = new List<JsonElement>();
        foreach (string prompt in prompts)
            completions.Add((await Complete($$"""
                {"model": "{{Model}}", "prompt": {{prompt}}, "max_tokens": 8, "temperature": 0}
                """)).Ok());

        Assert.All(completions, c => Assert.Equal(OpenAiHttp.Text(completions[0]), OpenAiHttp.Text(c)));
        Assert.All(completions, c => Assert.Equal(promptIds.Length, c.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()));
    }

    [Fact]
    public async Task Logprobs_OpenAiShape_GreedyTokenIsTheMostLikely()
    {
        const int top = 3;
        var completion = (await Complete($$"""
            {"model": "{{Model}}", "prompt": "{{Prompt}}", "max_tokens": 6, "temperature": 0, "ignore_eos": true, "logprobs": {{top}}}
            """)).Ok();

        var logprobs = completion.GetProperty("choices")[0].GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        var tokenLogprobs = logprobs.GetProperty("token_logprobs").EnumerateArray().Select(l => l.GetSingle()).ToList();
        var topLogprobs = logprobs.GetProperty("top_logprobs").EnumerateArray().ToList();
        var offsets = logprobs.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32()).ToList();
        Assert.Equal(6, tokens.Count);
        Assert.Equal(6, tokenLogprobs.Count);
        Assert.Equal(6, topLogprobs.Count);
        Assert.Equal(6, offsets.Count);
        Assert.Equal(0, offsets[0]);
        Assert.True(offsets.Zip(offsets.Skip(1)).All(p => p.First <= p.Second), "text_offset must not decrease");
        Assert.All(offsets, o => Assert.InRange(o, 0, OpenAiHttp.Text(completion).Length));
        for (int i = 0; i < tokens.Count; i++)
        {
            var alternatives = topLogprobs[i].EnumerateObject().ToList();
            Assert.InRange(alternatives.Count, 1, top);
            Assert.All(alternatives, a => Assert.True(a.Value.GetSingle() <= 0));
            Assert.True(tokenLogprobs[i] <= 0);
            // Greedy: the sampled token is the argmax, so its logprob is the best alternative's.
            Assert.Equal(alternatives.Max(a => a.Value.GetSingle()), tokenLogprobs[i], 4);
        }
    }

    [Fact]
    public async Task Streaming_SseChunksThenUsageThenDone_TextSameAsWhole()
    {
        const string request = $$"""
            {"model": "{{Model}}", "prompt": "{{Prompt}}", "max_tokens": 10, "temperature": 0, "ignore_eos": true,
             "stream_options": {"include_usage": true} }
            """;
        var whole = (await Complete(request)).Ok();

        var stream = await cluster.Http.StreamAsync("/v1/completions", request);

        Assert.Equal(System.Net.HttpStatusCode.OK, stream.Status);
        Assert.Equal("text/event-stream", stream.ContentType);
        Assert.Equal("[DONE]", stream.Events[^1]);
        var events = stream.JsonEvents;
        Assert.Equal(stream.Events.Count - 1, events.Count);
        Assert.All(events, e => Assert.Equal("text_completion", e.GetProperty("object").GetString()));
        Assert.Single(events.Select(e => e.GetProperty("id").GetString()).Distinct());
        Assert.StartsWith("cmpl-", events[0].GetProperty("id").GetString());

        var usageEvent = events[^1];
        Assert.Empty(usageEvent.GetProperty("choices").EnumerateArray());
        Assert.Equal(whole.GetProperty("usage").GetRawText(), usageEvent.GetProperty("usage").GetRawText());
        var choiceEvents = events.SkipLast(1).ToList();
        Assert.All(choiceEvents, e => Assert.False(e.TryGetProperty("usage", out _), "only the last event carries usage"));
        Assert.Equal(OpenAiHttp.Text(whole), string.Concat(choiceEvents.Select(OpenAiHttp.Text)));
        Assert.Equal("length", OpenAiHttp.FinishReason(choiceEvents[^1]));
        Assert.All(choiceEvents.SkipLast(1), e => Assert.Equal(JsonValueKind.Null, e.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
    }

    [Fact]
    public async Task UnknownFields_AreIgnored()
    {
        var completion = (await Complete($$"""
            {"model": "{{Model}}", "prompt": "{{Prompt}}", "max_tokens": 2, "ignore_eos": true, "user": "someone", "frobnicate": {"x": [1, 2]},
             "presence_penalty": 0, "echo": false}
            """)).Ok();

        Assert.Equal(2, completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }
}
