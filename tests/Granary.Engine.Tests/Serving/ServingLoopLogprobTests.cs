using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Tests.Generation;
using Granary.Model.Runtime;
using static Granary.Engine.Tests.Serving.ServingHarness;
using static TorchSharp.torch;

namespace Granary.Engine.Tests.Serving;

/// <summary>Log-probabilities streamed by the loop, checked against one plain forward over the whole text.</summary>
public sealed class ServingLoopLogprobTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    const float Tolerance = 1e-4f;

    GenerationRequest Request(string prompt, int? topLogprobs) =>
        new(fixture.Loaded.Tokenizer.Encode(prompt, addBos: true), new SamplingParams { Temperature = 0, MaxTokens = 6, IgnoreEos = true })
        {
            TopLogprobs = topLogprobs,
        };

    /// <summary>log_softmax of a cache-free forward over prompt + output: row i predicts output token i.</summary>
    float[][] ReferenceLogprobs(IReadOnlyList<int> prompt, IReadOnlyList<int> output)
    {
        using var scope = NewDisposeScope();
        int[] text = [.. prompt, .. output.SkipLast(1)];
        var logits = fixture.Loaded.Model.Step([new StepInput(null, text, AllLogits: true)]); // [T, V]
        var logprobs = logits.log_softmax(-1).narrow(0, prompt.Count - 1, output.Count).cpu(); // [output, V]
        return Enumerable.Range(0, output.Count).Select(i => logprobs[i].data<float>().ToArray()).ToArray();
    }

    [Fact]
    public async Task Top_logprobs_are_sorted_and_the_chosen_logprob_matches_a_reference_forward()
    {
        var request = Request("def fibonacci(n):", topLogprobs: 3);
        List<Abstractions.Serving.CompletionChunk> chunks;
        using (var harness = new ServingHarness(fixture.Loaded))
            chunks = await ReadAll(await harness.Loop.SubmitAsync(request));

        int[] output = Tokens(chunks);
        var reference = ReferenceLogprobs(request.PromptTokenIds, output);
        for (int i = 0; i < chunks.Count; i++)
        {
            var logprob = Assert.Single(chunks[i].Logprobs!);
            Assert.Equal(output[i], logprob.TokenId);
            Assert.Equal(3, logprob.Top.Length);
            Assert.True(logprob.Top.Zip(logprob.Top.Skip(1)).All(p => p.First.Logprob >= p.Second.Logprob), "alternatives must be sorted, most likely first");
            Assert.Equal(logprob.TokenId, logprob.Top[0].TokenId); // greedy picks the most likely token
            Assert.InRange(logprob.Logprob, reference[i][output[i]] - Tolerance, reference[i][output[i]] + Tolerance);
            var referenceTop = reference[i].Select((value, id) => (value, id)).OrderByDescending(p => p.value).Take(3).ToList();
            for (int j = 0; j < 3; j++)
            {
                Assert.Equal(referenceTop[j].id, logprob.Top[j].TokenId);
                Assert.InRange(logprob.Top[j].Logprob, referenceTop[j].value - Tolerance, referenceTop[j].value + Tolerance);
            }
        }
    }

    [Fact]
    public async Task Zero_top_logprobs_gives_the_chosen_token_only_and_none_asked_gives_nothing()
    {
        using var harness = new ServingHarness(fixture.Loaded);
        var chosenOnly = await ReadAll(await harness.Loop.SubmitAsync(Request("x", topLogprobs: 0)));
        var none = await ReadAll(await harness.Loop.SubmitAsync(Request("x", topLogprobs: null)));

        Assert.All(chosenOnly, c => Assert.Empty(Assert.Single(c.Logprobs!).Top));
        Assert.All(none, c => Assert.Null(c.Logprobs));
        Assert.Equal(Tokens(none), Tokens(chosenOnly));
    }
}
