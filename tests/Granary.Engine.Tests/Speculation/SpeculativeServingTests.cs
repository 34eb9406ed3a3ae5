using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Engine.Generation;
using Granary.Engine.Scheduling;
using Granary.Engine.Serving;
using Granary.Engine.Speculation;
using Granary.Engine.Tests.Generation;

namespace Granary.Engine.Tests.Speculation;

/// <summary>The serving loop streams every token a speculative step accepts, in order, with one log-probability each.</summary>
public sealed class SpeculativeServingTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    [Fact]
    public async Task Streams_carry_every_accepted_token_and_end_exactly_where_plain_decoding_ends()
    {
        var tokenizer = fixture.Loaded.Tokenizer;
        var open = new SamplingParams { Temperature = 0, MaxTokens = 30, IgnoreEos = true };
        string[] prompts = ["def fibonacci(n):", "import os\nimport sys", "x"];
        var plainRequests = prompts.Select(p => new GenerationRequest(tokenizer.Encode(p, addBos: true), open) { TopLogprobs = 2 }).ToList();
        var plain = new BatchGenerator(fixture.Loaded.Model, tokenizer).Generate(plainRequests).Results;
        // The second request stops at a string from the middle of its plain output.
        string stop = plain[1].Text.Trim().Substring(plain[1].Text.Trim().Length / 2, 2);
        var requests = plainRequests.Select((r, i) => i == 1 ? r with { Sampling = open with { Stop = [stop] } } : r).ToList();
        var expected = new BatchGenerator(fixture.Loaded.Model, tokenizer).Generate(requests).Results;

        using var draft = Drafts.NoisyCopy(fixture.Loaded.Model, 0.0);
        var engine = new InferenceEngine(fixture.Loaded.Model, tokenizer, new SchedulerOptions(), draft, new SpeculationOptions { NumSpeculativeTokens = 4, IsAdaptive = false });
        using var loop = new ServingLoop(engine);
        var streams = new List<ServingStream>();
        foreach (var request in requests) streams.Add(await loop.SubmitAsync(request));
        for (int i = 0; i < requests.Count; i++)
        {
            var chunks = new List<CompletionChunk>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await foreach (var chunk in streams[i].ReadAllAsync(timeout.Token)) chunks.Add(chunk);
            Assert.Equal(expected[i].TokenIds, chunks.SelectMany(c => c.TokenIds));
            Assert.Equal(expected[i].Text, string.Concat(chunks.Select(c => c.Text)));
            Assert.Equal(expected[i].FinishReason, chunks[^1].FinishReason);
            Assert.All(chunks, c => Assert.Equal(c.TokenIds.Length, c.Logprobs!.Length));
            Assert.Equal(chunks.SelectMany(c => c.TokenIds), chunks.SelectMany(c => c.Logprobs!).Select(l => l.TokenId));
            Assert.Equal(expected[i].TokenIds.Count, chunks[^1].CompletionTokens);
        }
        Assert.True(engine.SpeculationStats.NumAcceptedTokens > 0);
    }
}
