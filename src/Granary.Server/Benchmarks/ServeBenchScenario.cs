namespace Granary.Server.Benchmarks;

/// <summary>
/// `granary bench serve`: the same closed-loop load at several client counts against one server, after a
/// warm-up at the largest count, so every count sees a warm process and model. With several repeats the
/// counts take turns (1, 16, 1, 16, ...) and each count keeps its median run, so a burst of load from
/// elsewhere on the machine cannot land on one count only.
/// </summary>
public static class ServeBenchScenario
{
    /// <summary>Short prompts of different lengths; clients cycle through them.</summary>
    public static readonly IReadOnlyList<string> Prompts =
    [
        "Once upon a time",
        "def fibonacci(n):\n    ",
        "The quick brown fox jumps over the lazy dog. Then",
        "import os\nimport sys\n\nclass Config:\n    def __init__(self):\n        ",
        "In the beginning",
        "SELECT name, email FROM users WHERE",
        "Dear team, thank you all for",
        "for i in range(10):\n    ",
    ];

    const int WarmupTokens = 4;

    public static async Task<IReadOnlyList<ServeBenchRun>> RunAsync(
        IStreamingCompletionClient client, IReadOnlyList<int> clientCounts, int requestsPerClient, int maxTokens,
        Action<string>? progress = null, CancellationToken cancellationToken = default, int repeats = 1)
    {
        var completions = Prompts.Select(p => new BenchCompletion(p, maxTokens)).ToList();
        progress?.Invoke($"warming up with {clientCounts.Max()} clients ...");
        await ServeBenchmark.RunAsync(client, clientCounts.Max(), 1, Prompts.Select(p => new BenchCompletion(p, WarmupTokens)).ToList(), cancellationToken);
        var runsByCount = clientCounts.ToDictionary(c => c, _ => new List<ServeBenchRun>());
        for (int repeat = 1; repeat <= repeats; repeat++)
        {
            foreach (int numClients in clientCounts)
            {
                progress?.Invoke($"{numClients} client(s) x {requestsPerClient} request(s) x {maxTokens} tokens" + (repeats > 1 ? $" (repeat {repeat}/{repeats})" : "") + " ...");
                runsByCount[numClients].Add(await ServeBenchmark.RunAsync(client, numClients, requestsPerClient, completions, cancellationToken));
            }
        }
        return clientCounts.Select(c => runsByCount[c].OrderBy(r => r.TokensPerSecond).ElementAt(runsByCount[c].Count / 2)).ToList();
    }
}
