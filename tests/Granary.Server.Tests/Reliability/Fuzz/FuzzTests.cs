using System.Collections.Concurrent;
using Granary.Grpc.V1;
using Granary.Server.Tests.Api;

namespace Granary.Server.Tests.Reliability.Fuzz;

/// <summary>A server with small limits for the fuzz test, behind one API key.</summary>
public sealed class FuzzServerFixture() : InProcessServerFixture(contextLength: 256)
{
    public const string ApiKey = "sk-fuzz-0123456789";
    public const int MaxRequestBodyBytes = 64 * 1024;
    public const int MaxGeneratedTokens = 4;

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Limits:MaxGeneratedTokens"] = MaxGeneratedTokens.ToString(),
        ["Limits:MaxRequestBodyBytes"] = MaxRequestBodyBytes.ToString(),
        ["Limits:RequestTimeoutSeconds"] = "60",
        ["ApiKeys:0:Key"] = ApiKey,
        ["ApiKeys:0:Tenant"] = "fuzz",
    };
}

/// <summary>
/// Ten thousand malformed, oversized, truncated, wrongly typed and adversarial requests over HTTP and gRPC,
/// sent concurrently to a real server: none may get a 5xx (or a gRPC Internal/Unknown), the server must not
/// crash, and a correct request must succeed afterwards. The generator is seeded (GRANARY_FUZZ_SEED to pick
/// another seed, GRANARY_FUZZ_COUNT for more requests); a failure lists the seed and each case's index.
/// </summary>
public sealed class FuzzTests(FuzzServerFixture server) : IClassFixture<FuzzServerFixture>
{
    const int DefaultCount = 10_000;
    const int DefaultSeed = 20261123;
    static readonly int Concurrency = int.TryParse(Environment.GetEnvironmentVariable("GRANARY_FUZZ_CONCURRENCY"), out int n) ? n : 32;

    [Fact]
    public async Task TenThousandBadRequests_GetNo5xx_AndTheServerStillServes()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("GRANARY_FUZZ_SEED"), out int s) ? s : DefaultSeed;
        int count = int.TryParse(Environment.GetEnvironmentVariable("GRANARY_FUZZ_COUNT"), out int c) ? c : DefaultCount;
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Concurrency }) { BaseAddress = server.HttpAddress, Timeout = TimeSpan.FromSeconds(90) };
        using var grpc = server.NewGrpcHttpClient();
        var target = new FuzzTarget(http, grpc, server.HttpAddress, InProcessServerFixture.ModelName, FuzzServerFixture.ApiKey,
            FuzzServerFixture.MaxRequestBodyBytes, FuzzServerFixture.MaxGeneratedTokens);

        var outcomes = new ConcurrentBag<FuzzOutcome>();
        int next = -1;
        var workers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            for (int index = Interlocked.Increment(ref next); index < count; index = Interlocked.Increment(ref next))
                outcomes.Add(await RunCaseAsync(target, seed, index));
        }));
        await Task.WhenAll(workers);

        Assert.Equal(count, outcomes.Count);
        var faults = outcomes.Where(o => o.IsServerFault).OrderBy(o => o.Index).ToList();
        Assert.True(faults.Count == 0,
            $"{faults.Count} of {count} fuzz requests (seed {seed}) got a server fault; one of each kind:\n" +
            $"(server errors: {string.Join("\n", server.ErrorLog.Errors.Take(3))})\n" +
            $"(before: {string.Join("\n", faults.Take(12).Select(f => outcomes.FirstOrDefault(o => o.Index == f.Index - 1)))})\n" +
            string.Join("\n", faults.GroupBy(f => (f.Kind, f.HttpStatus, f.GrpcStatus, Detail: f.Detail?[..Math.Min(40, f.Detail.Length)])).Select(g => $"{g.Count()} x {g.First()}")));
        Assert.True(server.ErrorLog.Errors.Count == 0, $"the server logged {server.ErrorLog.Errors.Count} errors, e.g.:\n{string.Join("\n", server.ErrorLog.Errors.Take(3))}");
        // The generator reaches every kind of case, and the valid ones in the mix were served.
        var kinds = outcomes.GroupBy(o => o.Kind).ToDictionary(g => g.Key, g => g.ToList());
        foreach (string kind in new[] { "valid", "json", "bytes", "oversized", "abandoned-stream", "grpc-fields", "grpc-bytes", "short-body", "slow" })
            Assert.True(kinds.ContainsKey(kind), $"no {kind} case among {count}");
        Assert.All(kinds["valid"], o => Assert.True(o.HttpStatus == 200, o.ToString()));
        Assert.All(kinds["oversized"], o => Assert.True(o.HttpStatus is null or 413, o.ToString()));

        await AssertStillServesAsync();
    }

    static Task<FuzzOutcome> RunCaseAsync(FuzzTarget target, int seed, int index)
    {
        var random = new Random(HashCode.Combine(seed, index));
        int roll = random.Next(100);
        return roll switch
        {
            < 60 => HttpFuzzCases.RunAsync(target, random, index),
            < 85 => GrpcFuzzCases.RunAsync(target, random, index),
            _ => RawHttpFuzzCases.RunAsync(target, random, index),
        };
    }

    async Task AssertStillServesAsync()
    {
        using var http = server.NewHttpClient();
        string body = $$"""{"model": "{{InProcessServerFixture.ModelName}}", "prompt": "Hello", "max_tokens": 3, "temperature": 0, "ignore_eos": true}""";
        var completion = (await http.PostRawAsync("/v1/completions", body, FuzzServerFixture.ApiKey)).Ok();
        Assert.Equal(3, completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        using var grpc = server.NewGrpcHttpClient();
        var request = new GenerateRequest { Model = InProcessServerFixture.ModelName, Prompt = "Hello", Sampling = new SamplingParams { MaxTokens = 3, IgnoreEos = true } };
        var reply = await GrpcWire.CallAsync(grpc, GrpcWire.GeneratePath, GrpcWire.Frame(request), FuzzServerFixture.ApiKey);
        Assert.True(reply.GrpcStatus == 0, reply.ToString());
        Assert.NotEmpty(reply.Messages);

        // Abandoned and refused requests left nothing behind on the router.
        for (int i = 0; i < 100; i++)
        {
            var status = await server.Server.Gateway.GetStatus(InProcessServerFixture.ModelName);
            if (status.NumRunning == 0 && status.NumWaiting == 0 && status.KvTokensReserved == 0) return;
            await Task.Delay(100);
        }
        Assert.Fail("requests are still running on the router after the fuzz");
    }
}
