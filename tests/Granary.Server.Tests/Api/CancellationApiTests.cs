using System.Net;
using Granary.Abstractions.Serving;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Api;

/// <summary>A client that goes away frees its sequence on the router (in whichever silo it runs).</summary>
[Collection(GranaryClusterCollection.Name)]
public sealed class CancellationApiTests(GranaryClusterFixture cluster)
{
    const string Model = GranaryClusterFixture.ModelName;

    // Long enough that it cannot finish on its own within the test's waits.
    static readonly string LongRequest = $$"""
        {"model": "{{Model}}", "prompt": "Once upon a time", "max_tokens": {{GranaryClusterFixture.ContextLength - 32}},
         "temperature": 0, "ignore_eos": true, "stream": true}
        """;

    [Fact]
    public async Task StreamingClientAbortsMidStream_SequenceIsFreed()
    {
        await WaitUntilIdle();
        using var aborted = new CancellationTokenSource();
        using var request = OpenAiHttp.Request(HttpMethod.Post, "/v1/completions", LongRequest, apiKey: null);
        using (var response = await cluster.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, aborted.Token))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(aborted.Token));
            for (int numEvents = 0; numEvents < 3;)
            {
                string? line = await reader.ReadLineAsync(aborted.Token);
                Assert.NotNull(line);
                if (line.StartsWith("data: ", StringComparison.Ordinal)) numEvents++;
            }
            var running = await cluster.GetStatus();
            Assert.Equal(1, running.NumRunning);
            Assert.True(running.KvTokensReserved > 0);
            aborted.Cancel();
        }

        var freed = await WaitUntilIdle();
        Assert.Equal(0, freed.KvTokensReserved);
    }

    [Fact]
    public async Task NonStreamingClientGivesUp_SequenceIsFreed()
    {
        await WaitUntilIdle();
        using var aborted = new CancellationTokenSource();
        using var request = OpenAiHttp.Request(HttpMethod.Post, "/v1/completions", LongRequest.Replace("\"stream\": true", "\"stream\": false"), apiKey: null);
        var sent = cluster.Http.SendAsync(request, aborted.Token);

        await WaitFor(status => status.NumRunning == 1, "the request to start running");
        aborted.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);

        var freed = await WaitUntilIdle();
        Assert.Equal(0, freed.KvTokensReserved);
    }

    Task<DeploymentStatus> WaitUntilIdle() => WaitFor(status => status.NumRunning == 0 && status.NumWaiting == 0, "the router to be idle");

    async Task<DeploymentStatus> WaitFor(Func<DeploymentStatus, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var status = await cluster.GetStatus();
            if (condition(status)) return status;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting for {what}: running {status.NumRunning}, waiting {status.NumWaiting}, KV {status.KvTokensReserved}");
            await Task.Delay(50);
        }
    }
}
