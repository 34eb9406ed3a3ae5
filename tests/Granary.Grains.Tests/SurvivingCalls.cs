using Granary.Abstractions;
using Granary.Abstractions.Serving;
using Granary.Grains.Routing;

namespace Granary.Grains.Tests;

/// <summary>Router calls for tests that kill silos: a call whose silo dies ends in an unavailable chunk instead of throwing.</summary>
static class SurvivingCalls
{
    public static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0, IgnoreEos = true, MaxTokens = maxTokens };

    public static int[] Tokens(IEnumerable<CompletionChunk> chunks) => chunks.SelectMany(c => c.TokenIds).ToArray();

    public static async Task<List<CompletionChunk>> Collect(IRouterGrain router, string model, int[] prompt, SamplingParams sampling, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var chunks = new List<CompletionChunk>();
        try
        {
            await foreach (var chunk in router.Generate(new CompletionRequest { Model = model, PromptTokenIds = prompt, Sampling = sampling }, deadline.Token))
                chunks.Add(chunk);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            chunks.Add(CompletionChunk.Failed(ServingErrorKind.Unavailable, e.Message)); // the router's own silo died
        }
        return chunks;
    }

    /// <summary>Sends a greedy 8-token request every half second until one is served, for at most <paramref name="recovery"/>.</summary>
    public static async Task<List<CompletionChunk>> RetryUntilServed(IRouterGrain router, string model, int[] prompt, TimeSpan recovery)
    {
        var deadline = DateTime.UtcNow + recovery;
        while (true)
        {
            var chunks = await Collect(router, model, prompt, Greedy(8), recovery);
            if (chunks.Count > 0 && chunks[^1].Error is null) return chunks;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not served {recovery.TotalSeconds} s after the silo died: {chunks[^1].Error?.Message}");
            await Task.Delay(500);
        }
    }
}
