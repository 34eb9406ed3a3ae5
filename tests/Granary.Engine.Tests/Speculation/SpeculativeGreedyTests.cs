using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Speculation;
using Granary.Engine.Tests.Generation;

namespace Granary.Engine.Tests.Speculation;

/// <summary>Greedy decoding with speculation emits exactly the tokens and text that plain decoding does.</summary>
public sealed class SpeculativeGreedyTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    static readonly string[] Prompts =
    [
        "def fibonacci(n):",
        "The quick brown fox jumps over the lazy dog, and then",
        "x",
        "import os\nimport sys\n\nclass Config:\n    def __init__(self):",
    ];

    static readonly SpeculationOptions FixedK = new() { NumSpeculativeTokens = 4, IsAdaptive = false };

    GenerationRequest Request(string prompt, SamplingParams sampling) => new(fixture.Loaded.Tokenizer.Encode(prompt, addBos: true), sampling);

    IReadOnlyList<GenerationResult> Plain(IReadOnlyList<GenerationRequest> requests) =>
        new BatchGenerator(fixture.Loaded.Model, fixture.Loaded.Tokenizer).Generate(requests).Results;

    (IReadOnlyList<GenerationResult> Results, SpeculationSnapshot Stats) Speculative(IReadOnlyList<GenerationRequest> requests, DraftModel draft, SpeculationOptions? options = null)
    {
        var generator = new BatchGenerator(fixture.Loaded.Model, fixture.Loaded.Tokenizer, draft, options ?? FixedK);
        var results = generator.Generate(requests).Results;
        return (results, generator.LastSpeculation!);
    }

    public static TheoryData<string, double> DraftKinds => new() { { "copy", 0.0 }, { "noisy", 0.02 }, { "unrelated", -1 } };

    DraftModel MakeDraft(double noise) => noise < 0 ? Drafts.Unrelated(fixture.Loaded.Model) : Drafts.NoisyCopy(fixture.Loaded.Model, noise);

    static void AssertSameResults(IReadOnlyList<GenerationResult> expected, IReadOnlyList<GenerationResult> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].TokenIds, actual[i].TokenIds);
            Assert.Equal(expected[i].Text, actual[i].Text);
            Assert.Equal(expected[i].FinishReason, actual[i].FinishReason);
        }
    }

    [Theory]
    [MemberData(nameof(DraftKinds))]
    public void Batch_one_gives_the_plain_greedy_tokens(string kind, double noise)
    {
        var request = Request(Prompts[0], new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true });
        using var draft = MakeDraft(noise);
        var (results, stats) = Speculative([request], draft);
        AssertSameResults(Plain([request]), results);
        Assert.True(stats.NumVerifications > 0, $"{kind}: nothing was speculated");
        if (noise == 0) Assert.Equal(1.0, stats.AcceptanceRate); // a copy of the target always agrees
        if (noise < 0) Assert.True(stats.AcceptanceRate < 0.5, $"{kind}: acceptance {stats.AcceptanceRate:F2}, expected mostly rejections");
    }

    [Theory]
    [MemberData(nameof(DraftKinds))]
    public void A_mixed_batch_with_early_finishers_gives_each_request_its_plain_tokens(string kind, double noise)
    {
        // Different prompt lengths and budgets: some finish after a few tokens, mid-way through a proposal.
        int[] maxTokens = [3, 29, 11, 40];
        var requests = Prompts.Select((p, i) => Request(p, new SamplingParams { Temperature = 0, MaxTokens = maxTokens[i], IgnoreEos = true })).ToList();
        using var draft = MakeDraft(noise);
        var (results, stats) = Speculative(requests, draft);
        AssertSameResults(Plain(requests), results);
        Assert.True(stats.NumVerifications > 0, $"{kind}: nothing was speculated");
        Assert.Equal(maxTokens, results.Select(r => r.TokenIds.Count));
    }

    [Fact]
    public void Stop_strings_and_eos_end_a_request_exactly_where_plain_decoding_does()
    {
        var open = new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true };
        var plain = Plain(Prompts.Select(p => Request(p, open)).ToList());
        // A stop string from the middle of each plain output: the run must stop there, and emit nothing after it.
        var stopped = Prompts.Select((p, i) => Request(p, open with { Stop = [MiddleOf(plain[i].Text)] })).ToList();
        var withEos = Prompts.Select(p => Request(p, open with { IgnoreEos = false })).ToList();
        using var draft = Drafts.NoisyCopy(fixture.Loaded.Model, 0.0);
        var expected = Plain(stopped);
        Assert.Contains(expected, r => r.TokenIds.Count < 40); // the stop strings do cut the runs short
        AssertSameResults(expected, Speculative(stopped, draft).Results);
        AssertSameResults(Plain(withEos), Speculative(withEos, draft).Results);
    }

    [Fact]
    public void Adaptive_speculation_gives_the_plain_greedy_tokens()
    {
        var requests = Prompts.Select(p => Request(p, new SamplingParams { Temperature = 0, MaxTokens = 30, IgnoreEos = true })).ToList();
        using var draft = Drafts.NoisyCopy(fixture.Loaded.Model, 0.02);
        AssertSameResults(Plain(requests), Speculative(requests, draft, new SpeculationOptions { NumSpeculativeTokens = 5 }).Results);
    }

    static string MiddleOf(string text)
    {
        string trimmed = text.Trim();
        Assert.True(trimmed.Length >= 6, $"plain output too short to take a stop string from: \"{text}\"");
        return trimmed.Substring(trimmed.Length / 2, 2);
    }
}
