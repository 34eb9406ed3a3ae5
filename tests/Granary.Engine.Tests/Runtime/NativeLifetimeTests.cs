using System.Diagnostics;
using Granary.Abstractions;
using Granary.Engine.Generation;
using Granary.Engine.Tests.Generation;
using Granary.TestKit;
using TorchSharp;

namespace Granary.Engine.Tests.Runtime;

/// <summary>
/// TorchSharp 0.107 hands libtorch temporary Scalars (the alpha = 1 of <c>a + b</c>, the 0.5 of <c>x * 0.5</c>)
/// that nothing references once their handle is read. A collection during the native call can finalize one,
/// and libtorch then reads freed memory ("Expected false to be true" from Scalar::toFloat, seen under serving
/// load). Generation of every kind (greedy, sampled with top-k/top-p, penalties, log-probabilities) must survive
/// a thread that forces collections and reuses freed native memory the whole time.
/// </summary>
public sealed class NativeLifetimeTests(SmallModelFixture fixture) : IClassFixture<SmallModelFixture>
{
    static readonly TimeSpan Duration = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task Generation_survives_collections_during_native_calls()
    {
        var tokenizer = fixture.Loaded.Tokenizer;
        GenerationRequest Request(string prompt, SamplingParams sampling, int? logprobs = null) =>
            new(tokenizer.Encode(prompt, addBos: true), sampling) { TopLogprobs = logprobs };
        var requests = new[]
        {
            Request("def fibonacci(n):", new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true }),
            Request("The quick brown fox", new SamplingParams { Temperature = 0.8, TopP = 0.9, TopK = 40, Seed = 3, MaxTokens = 8, IgnoreEos = true }, logprobs: 3),
            Request("import os", new SamplingParams { Temperature = 1.2, RepetitionPenalty = 1.3, Seed = 5, MaxTokens = 8, IgnoreEos = true }),
        };
        var expected = new BatchGenerator(fixture.Loaded.Model, tokenizer).Generate(requests).Results.Select(r => r.TokenIds).ToList();

        using var stop = new CancellationTokenSource();
        var churn = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                for (int k = 0; k < 64; k++) (k * 0.5).ToScalar().Dispose(); // take the freed native blocks again
            }
        });
        int runs = 0;
        try
        {
            for (var watch = Stopwatch.StartNew(); watch.Elapsed < Duration; runs++)
            {
                var results = new BatchGenerator(fixture.Loaded.Model, tokenizer).Generate(requests).Results;
                Assert.Equal(expected, results.Select(r => r.TokenIds).ToList());
            }
        }
        finally
        {
            stop.Cancel();
            await churn;
        }
        Assert.True(runs > 0);
    }
}
