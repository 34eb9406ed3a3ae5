using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.TestKit;

namespace Granary.Engine.Tests.Generation;

public sealed class BatchGeneratorTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    static readonly string[] Prompts =
    [
        "def fibonacci(n):",
        "The quick brown fox jumps over the lazy dog, and then",
        "x",
        "import os\nimport sys\n\nclass Config:\n    def __init__(self):",
    ];

    BatchGenerator NewGenerator(int maxPrefillTokensPerStep = 2048) =>
        new(fixture.Loaded.Model, fixture.Loaded.Tokenizer) { MaxPrefillTokensPerStep = maxPrefillTokensPerStep };

    GenerationRequest Request(string prompt, SamplingParams sampling) =>
        new(fixture.Loaded.Tokenizer.Encode(prompt, addBos: true), sampling);

    [Fact]
    public void A_batch_of_prompts_of_different_lengths_gives_each_prompt_its_solo_tokens()
    {
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 12, IgnoreEos = true };
        var solo = Prompts.Select(p => NewGenerator().Generate([Request(p, greedy)]).Results[0].TokenIds).ToList();
        var (batched, _) = NewGenerator().Generate(Prompts.Select(p => Request(p, greedy)).ToList());
        for (int i = 0; i < Prompts.Length; i++)
            Assert.Equal(solo[i], batched[i].TokenIds);
        Assert.True(solo.Select(s => string.Join(",", s)).Distinct().Count() > 1, "prompts should not all give the same tokens");
    }

    [Fact]
    public void Chunked_prefill_gives_the_same_tokens_as_one_forward_per_batch()
    {
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true };
        var requests = Prompts.Select(p => Request(p, greedy)).ToList();
        var (whole, _) = NewGenerator().Generate(requests);
        var (chunked, _) = NewGenerator(maxPrefillTokensPerStep: 5).Generate(requests);
        Assert.Equal(whole.Select(r => r.TokenIds), chunked.Select(r => r.TokenIds));
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_independent_of_batch_neighbours()
    {
        var sampling = new SamplingParams { Temperature = 1.0, TopP = 0.95, TopK = 50, Seed = 1234, MaxTokens = 16, IgnoreEos = true };
        var alone1 = NewGenerator().Generate([Request(Prompts[0], sampling)]).Results[0];
        var alone2 = NewGenerator().Generate([Request(Prompts[0], sampling)]).Results[0];
        var withNeighbours = NewGenerator().Generate(
            [Request(Prompts[1], sampling with { Seed = 7 }), Request(Prompts[0], sampling), Request(Prompts[2], sampling with { Seed = null })]).Results[1];
        var otherSeed = NewGenerator().Generate([Request(Prompts[0], sampling with { Seed = 99 })]).Results[0];
        Assert.Equal(alone1.TokenIds, alone2.TokenIds);
        Assert.Equal(alone1.TokenIds, withNeighbours.TokenIds);
        Assert.NotEqual(alone1.TokenIds, otherSeed.TokenIds);
    }

    [Fact]
    public void Max_tokens_ends_with_length_and_exactly_that_many_tokens()
    {
        var result = NewGenerator().Generate([Request(Prompts[0], new SamplingParams { Temperature = 0, MaxTokens = 5, IgnoreEos = true })]).Results[0];
        Assert.Equal(5, result.TokenIds.Count);
        Assert.Equal(FinishReason.Length, result.FinishReason);
    }

    [Fact]
    public void A_stop_string_ends_generation_and_is_not_returned()
    {
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 24, IgnoreEos = true };
        var free = NewGenerator().Generate([Request(Prompts[1], greedy)]).Results[0];
        Assert.True(free.Text.Length >= 4, $"need some text to pick a stop string from: \"{free.Text}\"");
        string stop = free.Text.Substring(free.Text.Length / 2, 2);
        int expectedEnd = free.Text.IndexOf(stop, StringComparison.Ordinal);

        var stopped = NewGenerator().Generate([Request(Prompts[1], greedy with { Stop = [stop] })]).Results[0];
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free.Text[..expectedEnd], stopped.Text);
        Assert.True(stopped.TokenIds.Count < free.TokenIds.Count);
    }

    [Fact]
    public void Streaming_callbacks_add_up_to_each_final_text()
    {
        var pieces = new Dictionary<int, string>();
        var generator = new BatchGenerator(fixture.Loaded.Model, fixture.Loaded.Tokenizer)
        {
            OnText = (index, text) => pieces[index] = pieces.GetValueOrDefault(index, "") + text,
        };
        var sampling = new SamplingParams { Temperature = 0.8, Seed = 5, MaxTokens = 20, IgnoreEos = true };
        var (results, _) = generator.Generate(Prompts.Select(p => Request(p, sampling)).ToList());
        for (int i = 0; i < results.Count; i++)
            Assert.Equal(results[i].Text, pieces.GetValueOrDefault(i, ""));
    }

    [Fact]
    public void A_prompt_as_long_as_the_context_is_rejected_with_a_clear_error()
    {
        int context = fixture.Loaded.Config.MaxPositionEmbeddings;
        var tooLong = new GenerationRequest(Enumerable.Repeat(65, context).ToList(), new SamplingParams());
        var error = Assert.Throws<GranaryUserError>(() => NewGenerator().Generate([tooLong]));
        Assert.Contains($"{context} tokens", error.Message);
        Assert.Contains("max_position_embeddings", error.Message);
    }

    [Fact]
    public void Generation_stops_with_length_when_the_context_fills_up()
    {
        int context = fixture.Loaded.Config.MaxPositionEmbeddings;
        var prompt = Enumerable.Repeat(65, context - 3).ToList();
        var result = NewGenerator().Generate([new GenerationRequest(prompt, new SamplingParams { Temperature = 0, MaxTokens = 100, IgnoreEos = true })]).Results[0];
        Assert.Equal(FinishReason.Length, result.FinishReason);
        Assert.Equal(3, result.TokenIds.Count);
    }
}
