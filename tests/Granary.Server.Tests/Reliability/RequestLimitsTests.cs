using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Granary.Grpc.V1;
using Granary.Server.Api.Limits;
using Granary.Server.Hosting;
using Granary.Server.Tests.Api;
using Microsoft.Extensions.Configuration;
using static Granary.Server.Tests.Reliability.InProcessServerFixture;
using static Granary.Server.Tests.Reliability.LimitedServerFixture;

namespace Granary.Server.Tests.Reliability;

/// <summary>Every configured limit refuses what breaks it, over HTTP and gRPC, and names itself and its value in the error.</summary>
public sealed class RequestLimitsTests(LimitedServerFixture server) : IClassFixture<LimitedServerFixture>
{
    static string Completion(int maxTokens = 2, string prompt = "\"Hi\"", bool stream = false) =>
        $$"""{"model": "{{ModelName}}", "prompt": {{prompt}}, "max_tokens": {{maxTokens}}, "temperature": 0, "ignore_eos": true, "stream": {{(stream ? "true" : "false")}}}""";

    static string TokenIds(int count) => $"[{string.Join(",", Enumerable.Range(1, count))}]";

    [Fact]
    public async Task APromptOverMaxPromptTokens_Is400NamingTheLimit()
    {
        using var http = server.NewHttpClient();
        string key = KeyOf("prompt");
        (await http.PostRawAsync("/v1/completions", Completion(prompt: TokenIds(MaxPromptTokens)), key)).Ok();
        var error = OpenAiHttp.AssertError(await http.PostRawAsync("/v1/completions", Completion(prompt: TokenIds(MaxPromptTokens + 1)), key),
            HttpStatusCode.BadRequest, "prompt", "prompt_too_long");
        Assert.Contains($"({MaxPromptTokens}, Granary:Limits:MaxPromptTokens)", error.GetProperty("message").GetString());

        string chat = $$"""{"model": "{{ModelName}}", "messages": [{"role": "user", "content": "{{string.Join(" ", Enumerable.Repeat("word", 200))}}"}]}""";
        OpenAiHttp.AssertError(await http.PostRawAsync("/v1/chat/completions", chat, key), HttpStatusCode.BadRequest, "messages", "prompt_too_long");
    }

    [Fact]
    public async Task MaxTokensOverMaxGeneratedTokens_Is400NamingTheLimit()
    {
        using var http = server.NewHttpClient();
        string key = KeyOf("tokens");
        var error = OpenAiHttp.AssertError(await http.PostRawAsync("/v1/completions", Completion(maxTokens: MaxGeneratedTokens + 1), key),
            HttpStatusCode.BadRequest, "max_tokens", "max_tokens_exceeded");
        Assert.Contains($"({MaxGeneratedTokens}, Granary:Limits:MaxGeneratedTokens)", error.GetProperty("message").GetString());
        string chat = $$"""{"model": "{{ModelName}}", "messages": [{"role": "user", "content": "Hi"}], "max_completion_tokens": {{MaxGeneratedTokens + 1}}}""";
        OpenAiHttp.AssertError(await http.PostRawAsync("/v1/chat/completions", chat, key), HttpStatusCode.BadRequest, "max_completion_tokens", "max_tokens_exceeded");
    }

    [Fact]
    public async Task ABodyOverMaxRequestBodyBytes_Is413_WithOrWithoutContentLength()
    {
        using var http = server.NewHttpClient();
        string key = KeyOf("body");
        string big = Completion(prompt: $"\"{new string('a', MaxRequestBodyBytes)}\"");

        var declared = OpenAiHttp.AssertError(await http.PostRawAsync("/v1/completions", big, key), HttpStatusCode.RequestEntityTooLarge, null, "request_too_large");
        Assert.Contains($"({MaxRequestBodyBytes} bytes, Granary:Limits:MaxRequestBodyBytes)", declared.GetProperty("message").GetString());

        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big))), // no Content-Length: sent chunked
        };
        chunked.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        chunked.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        chunked.Headers.TransferEncodingChunked = true;
        using var response = await http.SendAsync(chunked);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{(int)response.StatusCode}: {body}");
        Assert.Contains("Granary:Limits:MaxRequestBodyBytes", body);
    }

    [Fact]
    public async Task MoreConcurrentRequestsThanAKeyMayRun_Is429WithRetryAfter()
    {
        using var http = server.NewHttpClient();
        string key = KeyOf("concurrency");
        var running = new List<HttpResponseMessage>();
        try
        {
            for (int i = 0; i < MaxConcurrentRequestsPerKey; i++)
            {
                // Streams that run until the timeout ends them; their headers mean they were admitted and are running.
                var request = OpenAiHttp.Request(HttpMethod.Post, "/v1/completions", Completion(maxTokens: MaxGeneratedTokens, stream: true), key);
                var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                running.Add(response);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            using var refused = await http.SendAsync(OpenAiHttp.Request(HttpMethod.Post, "/v1/completions", Completion(), key));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), refused.Headers.ToString());
            string body = await refused.Content.ReadAsStringAsync();
            Assert.Contains("too_many_concurrent_requests", body);
            Assert.Contains($"{MaxConcurrentRequestsPerKey} requests running", body);
            Assert.Contains("Granary:Limits:MaxConcurrentRequestsPerKey", body);
        }
        finally
        {
            foreach (var response in running) response.Dispose();
        }
    }

    [Fact]
    public async Task MoreRequestsPerMinuteThanAKeyMayStart_Is429WithRetryAfter()
    {
        using var http = server.NewHttpClient();
        string key = KeyOf("rate");
        for (int i = 0; i < RequestsPerMinutePerKey; i++) (await http.PostRawAsync("/v1/completions", Completion(maxTokens: 1), key)).Ok();

        using var refused = await http.SendAsync(OpenAiHttp.Request(HttpMethod.Post, "/v1/completions", Completion(maxTokens: 1), key));
        string body = await refused.Content.ReadAsStringAsync();
        Assert.True(refused.StatusCode == HttpStatusCode.TooManyRequests, body);
        Assert.True(refused.Headers.RetryAfter?.Delta is { } wait && wait >= TimeSpan.FromSeconds(1) && wait <= TimeSpan.FromMinutes(1), refused.Headers.ToString());
        Assert.Contains("rate_limit_exceeded", body);
        Assert.Contains("Granary:Limits:RequestsPerMinutePerKey", body);

        // Another key is not slowed down by this one.
        (await http.PostRawAsync("/v1/completions", Completion(maxTokens: 1), KeyOf("prompt"))).Ok();
    }

    [Fact]
    public async Task ARequestOverTheTimeout_Is504_AndItsSequenceIsFreed()
    {
        using var http = server.NewHttpClient();
        var error = OpenAiHttp.AssertError(await http.PostRawAsync("/v1/completions", Completion(maxTokens: MaxGeneratedTokens), KeyOf("timeout")),
            HttpStatusCode.GatewayTimeout, null, "request_timeout");
        Assert.Contains("Granary:Limits:RequestTimeoutSeconds", error.GetProperty("message").GetString());
        await AssertNothingRunsAsync();
    }

    [Fact]
    public async Task AStreamOverTheTimeout_EndsWithAnErrorEventAndDone()
    {
        using var http = server.NewHttpClient();
        var reply = await http.StreamAsync("/v1/completions", Completion(maxTokens: MaxGeneratedTokens), KeyOf("stream-timeout"));
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.Equal("[DONE]", reply.Events[^1]);
        var last = reply.JsonEvents[^1];
        Assert.Equal("request_timeout", last.GetProperty("error").GetProperty("code").GetString());
        Assert.True(reply.JsonEvents.Count > 1, "tokens were streamed before the timeout");
        await AssertNothingRunsAsync();
    }

    [Fact]
    public async Task Grpc_AppliesTheSameLimits()
    {
        using var http = server.NewGrpcHttpClient();
        string key = KeyOf("grpc");
        var longPrompt = new GenerateRequest { Model = ModelName };
        longPrompt.PromptTokenIds.Add(Enumerable.Range(1, MaxPromptTokens + 1));
        var reply = await GrpcWire.CallAsync(http, GrpcWire.GeneratePath, GrpcWire.Frame(longPrompt), key);
        Assert.True(reply.GrpcStatus == (int)global::Grpc.Core.StatusCode.InvalidArgument, reply.ToString());
        Assert.Contains("Granary:Limits:MaxPromptTokens", reply.GrpcMessage);

        var manyTokens = new GenerateRequest { Model = ModelName, Prompt = "Hi", Sampling = new SamplingParams { MaxTokens = MaxGeneratedTokens + 1 } };
        reply = await GrpcWire.CallAsync(http, GrpcWire.GeneratePath, GrpcWire.Frame(manyTokens), key);
        Assert.True(reply.GrpcStatus == (int)global::Grpc.Core.StatusCode.InvalidArgument, reply.ToString());
        Assert.Contains("Granary:Limits:MaxGeneratedTokens", reply.GrpcMessage);

        var huge = new GenerateRequest { Model = ModelName, Prompt = new string('a', MaxRequestBodyBytes + 1) };
        reply = await GrpcWire.CallAsync(http, GrpcWire.GeneratePath, GrpcWire.Frame(huge), key);
        Assert.True(reply.GrpcStatus == (int)global::Grpc.Core.StatusCode.ResourceExhausted, reply.ToString());

        var slow = new GenerateRequest { Model = ModelName, Prompt = "Hi", Sampling = new SamplingParams { MaxTokens = MaxGeneratedTokens, IgnoreEos = true, Temperature = 0 } };
        reply = await GrpcWire.CallAsync(http, GrpcWire.GeneratePath, GrpcWire.Frame(slow), key);
        Assert.True(reply.GrpcStatus == (int)global::Grpc.Core.StatusCode.DeadlineExceeded, reply.ToString());
        Assert.Contains("Granary:Limits:RequestTimeoutSeconds", reply.GrpcMessage);
        await AssertNothingRunsAsync();
    }

    [Fact]
    public async Task Grpc_RateLimit_IsResourceExhaustedWithRetryAfter()
    {
        using var http = server.NewGrpcHttpClient();
        string key = KeyOf("grpc-rate");
        var request = GrpcWire.Frame(new GenerateRequest { Model = ModelName, Prompt = "Hi", Sampling = new SamplingParams { MaxTokens = 1 } });
        for (int i = 0; i < RequestsPerMinutePerKey; i++)
        {
            var ok = await GrpcWire.CallAsync(http, GrpcWire.GeneratePath, request, key);
            Assert.True(ok.GrpcStatus == 0, ok.ToString());
        }
        var refused = await GrpcWire.CallAsync(http, GrpcWire.GeneratePath, request, key);
        Assert.True(refused.GrpcStatus == (int)global::Grpc.Core.StatusCode.ResourceExhausted, refused.ToString());
        Assert.Contains("Granary:Limits:RequestsPerMinutePerKey", refused.GrpcMessage);
        Assert.True(int.Parse(refused.Trailers["retry-after"]) >= 1);
    }

    [Fact]
    public void ByDefault_TheApisListenOnLoopbackOnly()
    {
        var defaults = new GranaryServerOptions();
        Assert.Equal("http://127.0.0.1:8000", defaults.Urls);
        Assert.Equal("http://127.0.0.1:8001", defaults.GrpcUrls);
        string appsettings = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "appsettings.json"));
        Assert.Contains("\"Urls\": \"http://127.0.0.1:8000\"", appsettings);
        Assert.Contains("\"GrpcUrls\": \"http://127.0.0.1:8001\"", appsettings);
    }

    [Theory]
    [InlineData("MaxPromptTokens", "0")]
    [InlineData("MaxGeneratedTokens", "-1")]
    [InlineData("MaxRequestBodyBytes", "10")]
    [InlineData("MaxConcurrentRequestsPerKey", "-1")]
    [InlineData("RequestsPerMinutePerKey", "-5")]
    [InlineData("RequestTimeoutSeconds", "-1")]
    public void ABadLimitSetting_IsNamedByValidation(string setting, string value)
    {
        var options = new ConfigurationBuilder()
            .AddInMemoryCollection([KeyValuePair.Create<string, string?>($"Granary:Limits:{setting}", value)])
            .Build().GetSection("Granary").Get<GranaryServerOptions>()!;
        Assert.Contains($"Granary:Limits:{setting}", options.Validate());
    }

    async Task AssertNothingRunsAsync()
    {
        // The router frees a stopped sequence at its next step; give it a few (bounded, not timed).
        for (int i = 0; i < 100; i++)
        {
            var status = await server.Server.Gateway.GetStatus(ModelName);
            if (status.NumRunning == 0 && status.NumWaiting == 0 && status.KvTokensReserved == 0) return;
            await Task.Delay(100);
        }
        Assert.Fail("the timed-out sequence still runs on the router");
    }
}
