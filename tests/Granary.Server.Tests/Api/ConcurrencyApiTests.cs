using System.Text.Json;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Api;

/// <summary>Continuous batching seen over HTTP: requests that share batches get exactly what each gets alone.</summary>
[Collection(GranaryClusterCollection.Name)]
public sealed class ConcurrencyApiTests(GranaryClusterFixture cluster)
{
    const string Model = GranaryClusterFixture.ModelName;

    static readonly (string Prompt, int MaxTokens)[] Requests =
    [
        ("Once upon a time", 20),
        ("Hi", 6),
        ("The quick brown fox jumps over the lazy dog", 14),
        ("def main():", 25),
        ("A much longer prompt, so that its prefill takes a different number of tokens than the others do", 9),
        ("1 2 3", 17),
    ];

    [Fact]
    public async Task SixConcurrentGreedyRequests_EachGetsItsOwnSingleRequestTokens()
    {
        // What `granary generate` gives each prompt on its own.
        var alone = Requests
            .Select(r => Cmd.GenerateJson(cluster.ModelDir, r.Prompt, "--temperature", "0", "--max-tokens", r.MaxTokens.ToString()))
            .ToList();

        // All at once, half of them streamed, so that they decode in shared batches.
        var together = await Task.WhenAll(Requests.Select((r, i) => RunAsync(r.Prompt, r.MaxTokens, stream: i % 2 == 1)));

        for (int i = 0; i < Requests.Length; i++)
        {
            Assert.True(Cmd.TokenIds(alone[i]).SequenceEqual(together[i].TokenIds),
                $"request {i} ({Requests[i].Prompt}): alone {JsonSerializer.Serialize(Cmd.TokenIds(alone[i]))}, together {JsonSerializer.Serialize(together[i].TokenIds)}");
            Assert.Equal(Cmd.Text(alone[i]), together[i].Text);
            Assert.Equal(Cmd.FinishReason(alone[i]), together[i].FinishReason);
        }
    }

    async Task<(int[] TokenIds, string Text, string FinishReason)> RunAsync(string prompt, int maxTokens, bool stream)
    {
        string request = $$"""
            {"model": "{{Model}}", "prompt": {{JsonSerializer.Serialize(prompt)}}, "max_tokens": {{maxTokens}}, "temperature": 0,
             "logprobs": 0, "return_tokens_as_token_ids": true}
            """;
        if (!stream)
        {
            var completion = (await cluster.Http.PostRawAsync("/v1/completions", request)).Ok();
            return (OpenAiHttp.CompletionTokenIds(completion), OpenAiHttp.Text(completion), OpenAiHttp.FinishReason(completion));
        }
        var events = (await cluster.Http.StreamAsync("/v1/completions", request)).JsonEvents;
        var choices = events.Select(e => e.GetProperty("choices")[0]).ToList();
        int[] ids = choices
            .SelectMany(c => c.GetProperty("logprobs").GetProperty("tokens").EnumerateArray())
            .Select(t => OpenAiHttp.TokenId(t.GetString()!))
            .ToArray();
        return (ids, string.Concat(choices.Select(c => c.GetProperty("text").GetString())), choices[^1].GetProperty("finish_reason").GetString()!);
    }
}
