using Granary.Abstractions;
using Granary.Abstractions.Sharding;
using Granary.Engine.Generation;
using Granary.Model.Loading;
using Granary.Model.Sharding;

namespace Granary.Engine.Tests.Generation;

/// <summary>
/// The engine over in-process plans gives the single-device tokens: a vocabulary-parallel plan samples without
/// gathering the logits, a sequence-parallel one spreads each sequence's KV over its shards; greedy and seeded
/// temperature / top-k / top-p sampling alike.
/// </summary>
public sealed class PlanGenerationTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    static readonly string[] Prompts = ["def fibonacci(n):", "The quick brown fox", "import os\nimport sys\n"];

    public static TheoryData<string, string> PlansAndModes => new()
    {
        { "vp=2", "greedy" },
        { "vp=4", "greedy" },
        { "vp=2", "temperature" },
        { "vp=4", "top-p" },
        { "pp=2,tp=2,vp=2", "top-k-top-p" },
        { "vp=3", "penalty" },
        { "sp=2", "greedy" },
        { "sp=4", "top-p" },
        { "pp=2,sp=2", "top-k-top-p" },
    };

    static SamplingParams Sampling(string mode, int i) => (mode switch
    {
        "greedy" => new SamplingParams { Temperature = 0 },
        "temperature" => new SamplingParams { Temperature = 0.9 },
        "top-p" => new SamplingParams { Temperature = 1.0, TopP = 0.9 },
        "top-k-top-p" => new SamplingParams { Temperature = 0.8, TopK = 40, TopP = 0.95 },
        "penalty" => new SamplingParams { Temperature = 1.0, RepetitionPenalty = 1.3 },
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    }) with { Seed = 77 + i, MaxTokens = 12, IgnoreEos = true };

    [Theory]
    [MemberData(nameof(PlansAndModes))]
    public void A_plan_generates_the_single_device_tokens(string planText, string mode)
    {
        var tokenizer = fixture.Loaded.Tokenizer;
        var requests = Prompts.Select((p, i) => new GenerationRequest(tokenizer.Encode(p, addBos: true), Sampling(mode, i))).ToList();
        var (expected, _) = new BatchGenerator(fixture.Loaded.Model, tokenizer).Generate(requests);

        using var plan = ShardedCausalLm.Load(fixture.Path, new ModelLoadOptions(), ParallelPlan.Parse(planText));
        var (actual, _) = new BatchGenerator(plan, tokenizer).Generate(requests);

        Assert.True(expected.Select(r => string.Join(",", r.TokenIds)).SequenceEqual(actual.Select(r => string.Join(",", r.TokenIds))),
            string.Join("\n", expected.Zip(actual).Select(p => string.Join(",", p.First.TokenIds) + " | " + string.Join(",", p.Second.TokenIds))));
        Assert.True(expected.Select(r => string.Join(",", r.TokenIds)).Distinct().Count() > 1, "the prompts should not all give the same tokens");
    }
}

/// <summary>Log-probabilities under a vocabulary-parallel plan come from the parts' summaries, and equal the single device's.</summary>
public sealed class VocabParallelLogprobTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    static List<Granary.Abstractions.Serving.TokenLogprob> Run(Granary.Model.Runtime.ICausalLm model, Granary.Model.Tokenization.TextTokenizer tokenizer, GenerationRequest request)
    {
        var engine = new Granary.Engine.Scheduling.InferenceEngine(model, tokenizer, new Granary.Engine.Scheduling.SchedulerOptions());
        engine.Submit(request);
        var logprobs = new List<Granary.Abstractions.Serving.TokenLogprob>();
        while (engine.HasWork)
            foreach (var update in engine.Step()) logprobs.AddRange(update.Logprobs ?? []);
        return logprobs;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void Vocabulary_parts_report_the_single_device_logprobs(int top)
    {
        var tokenizer = fixture.Loaded.Tokenizer;
        var request = new GenerationRequest(tokenizer.Encode("def fibonacci(n):", addBos: true), new SamplingParams { Temperature = 0.8, Seed = 3, MaxTokens = 6, IgnoreEos = true })
        {
            TopLogprobs = top,
        };
        var expected = Run(fixture.Loaded.Model, tokenizer, request);
        using var plan = ShardedCausalLm.Load(fixture.Path, new ModelLoadOptions(), ParallelPlan.Parse("vp=3"));
        var actual = Run(plan, tokenizer, request);

        Assert.Equal(6, expected.Count);
        Assert.Equal(expected.Select(l => l.TokenId), actual.Select(l => l.TokenId));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Logprob, actual[i].Logprob, 1e-4);
            Assert.Equal(top, actual[i].Top.Length);
            Assert.Equal(expected[i].Top.Select(t => t.TokenId), actual[i].Top.Select(t => t.TokenId));
            for (int j = 0; j < top; j++) Assert.Equal(expected[i].Top[j].Logprob, actual[i].Top[j].Logprob, 1e-4);
        }
    }
}
