using System.Runtime.CompilerServices;
using Granary.Grpc.V1;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using GranaryService = Granary.Grpc.V1.Granary;

namespace Granary.Client;

/// <summary>
/// A Granary server's gRPC API (<c>granary.v1.Granary</c>): streaming Generate and Chat, ListModels, Health.
/// Thread-safe; keep one per server and dispose it when done. Failures surface as <see cref="RpcException"/>
/// with the server's status code (InvalidArgument naming the bad field, NotFound for an unknown model, ...).
/// </summary>
public sealed class GranaryClient : IDisposable
{
    readonly GrpcChannel _channel;
    readonly GranaryService.GranaryClient _client;
    readonly GranaryClientOptions _options;
    readonly Metadata? _headers;

    /// <summary>Connects to the server's gRPC endpoint, e.g. <c>http://127.0.0.1:8001</c> (its <c>--grpc-urls</c>).</summary>
    public GranaryClient(string address, GranaryClientOptions? options = null)
        : this(new Uri(address), options)
    {
    }

    /// <summary>Connects to the server's gRPC endpoint, e.g. <c>http://127.0.0.1:8001</c> (its <c>--grpc-urls</c>).</summary>
    public GranaryClient(Uri address, GranaryClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        _options = options ?? new GranaryClientOptions();
        if (_options.MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(options), _options.MaxAttempts, "MaxAttempts must be >= 1");
        Address = address;
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = _options.HttpHandler,
            DisposeHttpClient = true,
            ServiceConfig = RetrySafeCalls(_options),
            MaxRetryAttempts = Math.Max(_options.MaxAttempts, 2),
        });
        _client = new GranaryService.GranaryClient(_channel);
        if (!string.IsNullOrEmpty(_options.ApiKey)) _headers = new Metadata { { "authorization", $"Bearer {_options.ApiKey}" } };
    }

    /// <summary>The server's gRPC endpoint.</summary>
    public Uri Address { get; }

    /// <summary>
    /// Continues a prompt, yielding one chunk per step as tokens are sampled; the last one carries the finish
    /// reason and usage. Stopping the enumeration early, or cancelling, cancels the call and frees the
    /// sequence on the server.
    /// </summary>
    public async IAsyncEnumerable<GenerateChunk> GenerateStreamingAsync(
        GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var call = _client.Generate(request, CallOptions(cancellationToken));
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
            yield return chunk;
    }

    /// <summary>Continues <paramref name="prompt"/> with <paramref name="model"/>; see <see cref="GenerateStreamingAsync(GenerateRequest, CancellationToken)"/>.</summary>
    public IAsyncEnumerable<GenerateChunk> GenerateStreamingAsync(
        string model, string prompt, SamplingParams? sampling = null, CancellationToken cancellationToken = default) =>
        GenerateStreamingAsync(new GenerateRequest { Model = model, Prompt = prompt, Sampling = sampling }, cancellationToken);

    /// <summary>
    /// The assistant's next message in a conversation (rendered with the model's chat template), one chunk per
    /// step; the last one carries the finish reason and usage. Stopping early, or cancelling, cancels the call.
    /// </summary>
    public async IAsyncEnumerable<GenerateChunk> ChatStreamingAsync(
        ChatRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var call = _client.Chat(request, CallOptions(cancellationToken));
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
            yield return chunk;
    }

    /// <summary>The models the server serves. Retried while the server is unavailable.</summary>
    public async Task<IReadOnlyList<ModelInfo>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        var response = await _client.ListModelsAsync(new ListModelsRequest(), CallOptions(cancellationToken));
        return response.Models;
    }

    /// <summary>Whether the server is live and ready to serve. Needs no API key; retried while the server is unavailable.</summary>
    public async Task<HealthResponse> HealthAsync(CancellationToken cancellationToken = default) =>
        await _client.HealthAsync(new HealthRequest(), CallOptions(cancellationToken));

    /// <summary>Closes the channel; calls in flight are cancelled.</summary>
    public void Dispose() => _channel.Dispose();

    CallOptions CallOptions(CancellationToken cancellationToken) => new(
        headers: _headers,
        deadline: _options.DefaultDeadline is { } deadline ? DateTime.UtcNow + deadline : null,
        cancellationToken: cancellationToken);

    /// <summary>
    /// gRPC's own retry policy for the idempotent calls: the channel replays them on Unavailable (a server
    /// restarting, a connection refused) with exponential backoff, before any response has arrived.
    /// </summary>
    static ServiceConfig? RetrySafeCalls(GranaryClientOptions options)
    {
        if (options.MaxAttempts < 2) return null;
        string service = GranaryService.Descriptor.FullName;
        var safeCalls = new MethodConfig
        {
            Names =
            {
                new MethodName { Service = service, Method = nameof(GranaryService.GranaryClient.ListModels) },
                new MethodName { Service = service, Method = nameof(GranaryService.GranaryClient.Health) },
            },
            RetryPolicy = new RetryPolicy
            {
                MaxAttempts = options.MaxAttempts,
                InitialBackoff = options.InitialBackoff,
                MaxBackoff = TimeSpan.FromSeconds(5),
                BackoffMultiplier = 2,
                RetryableStatusCodes = { StatusCode.Unavailable },
            },
        };
        return new ServiceConfig { MethodConfigs = { safeCalls } };
    }
}
