using System.Text.Json;
using Granary.Grains.Deployments;
using Granary.Server.Api.OpenAi;
using Granary.Server.Serving;
using Granary.Server.Telemetry;
using Granary.Server.Tests.Support;

namespace Granary.Server.Tests.Api;

/// <summary>What an accepted request body becomes before it is sent to the router.</summary>
[Collection(GranaryClusterCollection.Name)]
public sealed class RequestPlanTests(GranaryClusterFixture cluster)
{
    ModelGateway Gateway(long kvTokenBudget = long.MaxValue)
    {
        ModelFrontend[] models =
        [
            ModelFrontend.Load(new DeploymentOptions
            {
                Name = GranaryClusterFixture.ModelName,
                ModelDirectory = cluster.ModelDir,
                Scheduler = new() { KvCacheTokenBudget = kvTokenBudget },
            }),
        ];
        return new(cluster.Cluster.Client, models, new ServingMetrics(TestMeters.Factory(), models));
    }

    static T Body<T>(string json) => JsonSerializer.Deserialize<T>(json, OpenAiJson.Options)!;

    [Fact]
    public void Completion_CarriesTenantSamplingAndLogprobs()
    {
        var plan = CompletionsEndpoint.Plan(Body<CompletionsRequestBody>("""
            {"model": "tiny", "prompt": "Hi", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "top_k": 40, "seed": 11,
             "repetition_penalty": 1.2, "stop": "END", "ignore_eos": true, "logprobs": 3, "stream": true,
             "stream_options": {"include_usage": true}}
            """), Gateway(), tenant: "tenant-x");

        var request = plan.Request;
        Assert.Equal("tenant-x", request.Tenant);
        Assert.Equal("tiny", request.Model);
        Assert.Equal(3, request.TopLogprobs);
        Assert.Equal(7, request.Sampling.MaxTokens);
        Assert.Equal(0.5, request.Sampling.Temperature);
        Assert.Equal(0.9, request.Sampling.TopP);
        Assert.Equal(40, request.Sampling.TopK);
        Assert.Equal(11, request.Sampling.Seed);
        Assert.Equal(1.2, request.Sampling.RepetitionPenalty);
        Assert.Equal(["END"], request.Sampling.Stop);
        Assert.True(request.Sampling.IgnoreEos);
        Assert.True(plan.Stream);
        Assert.True(plan.IncludeUsage);
    }

    [Fact]
    public void Completion_Defaults_FollowOpenAi()
    {
        var plan = CompletionsEndpoint.Plan(Body<CompletionsRequestBody>("""{"model": "tiny", "prompt": "Hi"}"""), Gateway(), tenant: null);

        Assert.Null(plan.Request.Tenant);
        Assert.Null(plan.Request.TopLogprobs);
        Assert.Equal(CompletionsEndpoint.DefaultMaxTokens, plan.Request.Sampling.MaxTokens);
        Assert.Equal(1.0, plan.Request.Sampling.Temperature);
        Assert.Equal(0, plan.Request.Sampling.TopK);
        Assert.False(plan.Stream);
    }

    [Fact]
    public void Chat_WithoutMaxTokens_FillsTheContextWithinTheKvBudget()
    {
        const string body = """{"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "logprobs": true}""";

        var unlimited = ChatCompletionsEndpoint.Plan(Body<ChatCompletionsRequestBody>(body), Gateway(), tenant: "t");
        int numPromptTokens = unlimited.Request.PromptTokenIds.Length;
        Assert.Equal(GranaryClusterFixture.ContextLength - numPromptTokens, unlimited.Request.Sampling.MaxTokens);
        Assert.Equal(0, unlimited.Request.TopLogprobs);
        Assert.Equal("t", unlimited.Request.Tenant);

        var budgeted = ChatCompletionsEndpoint.Plan(Body<ChatCompletionsRequestBody>(body), Gateway(kvTokenBudget: 100), tenant: null);
        Assert.Equal(100 - numPromptTokens, budgeted.Request.Sampling.MaxTokens);
    }

    [Fact]
    public void Http_and_grpc_carry_the_program_and_the_awaited_tool()
    {
        var http = ChatCompletionsEndpoint.Plan(Body<ChatCompletionsRequestBody>("""{"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "user": "agent-7"}"""),
            Gateway(), tenant: "t", turn: AgentTurn.Read(programHeader: null, awaitingToolHeader: "search", user: "agent-7"));
        Assert.Equal(("t", "agent-7", "search"), (http.Request.Tenant, http.Request.Program, http.Request.AwaitingTool));

        var frontend = ModelFrontend.Load(new DeploymentOptions { Name = GranaryClusterFixture.ModelName, ModelDirectory = cluster.ModelDir });
        var grpc = Granary.Server.Api.Grpc.GrpcRequests.ToCompletion(
            new Granary.Grpc.V1.GenerateRequest { Model = GranaryClusterFixture.ModelName, Prompt = "Hi", Program = "agent-7", AwaitingTool = "search" }, frontend, "t");
        Assert.Equal(("t", "agent-7", "search"), (grpc.Tenant, grpc.Program, grpc.AwaitingTool));
        var unnamed = Granary.Server.Api.Grpc.GrpcRequests.ToCompletion(new Granary.Grpc.V1.GenerateRequest { Model = GranaryClusterFixture.ModelName, Prompt = "Hi" }, frontend, null);
        Assert.Equal((null, null), (unnamed.Program, unnamed.AwaitingTool));
        var bad = Assert.Throws<global::Grpc.Core.RpcException>(() => Granary.Server.Api.Grpc.GrpcRequests.ToCompletion(
            new Granary.Grpc.V1.GenerateRequest { Model = GranaryClusterFixture.ModelName, Prompt = "Hi", Program = "a\tb" }, frontend, null));
        Assert.Contains("program", bad.Status.Detail);
    }
}
