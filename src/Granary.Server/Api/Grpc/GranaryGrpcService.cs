using Granary.Server.Api.Auth;
using Granary.Server.Api.Limits;
using Granary.Abstractions.Serving;
using Granary.Grpc.V1;
using Granary.Server.Serving;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using GranaryService = Granary.Grpc.V1.Granary;

namespace Granary.Server.Api.Grpc;

/// <summary>
/// The `granary.v1.Granary` gRPC service: checks the API key and the request, then streams the gateway's
/// chunks. The call's cancellation token goes to the gateway, so a client that cancels frees its sequence;
/// so does the server's request timeout. Admission (per-key limits, drain) is the HTTP API's.
/// </summary>
internal sealed class GranaryGrpcService(
    ModelGateway gateway, Readiness readiness, ApiKeyRegistry apiKeys, TenantAdmission admission, RequestLimits limits,
    ILogger<GranaryGrpcService> logger) : GranaryService.GranaryBase
{
    const string BearerPrefix = "Bearer ";

    public override Task Generate(GenerateRequest request, IServerStreamWriter<GenerateChunk> responseStream, ServerCallContext context)
    {
        string? tenant = Authenticate(context);
        var completion = GrpcRequests.ToCompletion(request, FindModel(request.Model), tenant, limits);
        return Stream(completion, responseStream, context);
    }

    public override Task Chat(ChatRequest request, IServerStreamWriter<GenerateChunk> responseStream, ServerCallContext context)
    {
        string? tenant = Authenticate(context);
        var completion = GrpcRequests.ToCompletion(request, FindModel(request.Model), tenant, limits);
        return Stream(completion, responseStream, context);
    }

    public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        Authenticate(context);
        var response = new ListModelsResponse();
        response.Models.Add(gateway.Models.Select(m => new ModelInfo
        {
            Name = m.Name,
            ContextLength = m.ContextLength,
            VocabSize = m.Config.VocabSize,
            Created = m.Created,
        }));
        return Task.FromResult(response);
    }

    /// <summary>Open to all, like GET /health/*: orchestrators probe it without a key.</summary>
    public override Task<HealthResponse> Health(HealthRequest request, ServerCallContext context) =>
        Task.FromResult(new HealthResponse { Live = true, Ready = readiness.IsReady, Status = readiness.Status });

    async Task Stream(CompletionRequest request, IServerStreamWriter<GenerateChunk> responseStream, ServerCallContext context)
    {
        if (!readiness.IsReady)
            throw new RpcException(new Status(StatusCode.Unavailable, $"the server is not ready ({readiness.Status}); retry when Health reports ready"));
        var admitted = admission.TryAdmit(request.Tenant);
        if (admitted.Refusal is { } refusal) throw Refused(refusal);
        using var _ = admitted.Admission;
        using var deadline = new RequestDeadline(limits.Timeout, context.CancellationToken);
        var cancellationToken = deadline.Token;
        try
        {
            await foreach (var chunk in gateway.Generate(request, cancellationToken))
            {
                if (chunk.Error is { } error) throw GrpcChunks.ToRpcException(error);
                // The write waits only on the client: a write cancelled half-way aborts the HTTP/2 stream (RST_STREAM CANCEL),
                // and the caller would never see the DeadlineExceeded status the next wait on the deadline gives.
                await responseStream.WriteAsync(GrpcChunks.From(chunk), context.CancellationToken);
                if (chunk.IsLast) return;
            }
        }
        catch (OperationCanceledException) when (deadline.IsExpired)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, deadline.Message));
        }
        catch (Exception e) when (e is not RpcException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogError(e, "gRPC request for {Model} failed", request.Model);
            throw new RpcException(new Status(StatusCode.Internal, $"the deployment failed while running the request: {e.Message}"));
        }
        if (deadline.IsExpired) throw new RpcException(new Status(StatusCode.DeadlineExceeded, deadline.Message));
        cancellationToken.ThrowIfCancellationRequested();
        throw new RpcException(new Status(StatusCode.Unavailable, "the deployment ended the stream before the sequence finished; retry"));
    }

    /// <summary>429's gRPC twin: ResourceExhausted with a retry-after trailer; Unavailable while draining.</summary>
    static RpcException Refused(AdmissionRefusal refusal) => new(
        new Status(refusal.IsDraining ? StatusCode.Unavailable : StatusCode.ResourceExhausted, refusal.Message),
        new Metadata { { "retry-after", refusal.RetryAfterSeconds.ToString() } });

    ModelFrontend FindModel(string name)
    {
        if (name.Length == 0) throw new RpcException(new Status(StatusCode.InvalidArgument, "model is required"));
        return gateway.Find(name) ?? throw new RpcException(new Status(StatusCode.NotFound,
            $"model \"{name}\" is not served here (served: {string.Join(", ", gateway.Models.Select(m => m.Name))})"));
    }

    /// <summary>The caller's tenant; null when no keys are configured. Throws Unauthenticated for a missing or wrong key.</summary>
    string? Authenticate(ServerCallContext context)
    {
        if (!apiKeys.IsEnabled) return null;
        string? authorization = context.RequestHeaders.GetValue("authorization");
        if (authorization is null || !authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "this server needs an API key: send metadata `authorization: Bearer KEY`"));
        return apiKeys.TenantFor(authorization[BearerPrefix.Length..].Trim())
            ?? throw new RpcException(new Status(StatusCode.Unauthenticated, "the API key is not valid"));
    }
}
