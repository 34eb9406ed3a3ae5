using System.Runtime.CompilerServices;
using Granary.Grpc.V1;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using WireChatMessage = Granary.Grpc.V1.ChatMessage;
using WireFinishReason = Granary.Grpc.V1.FinishReason;

namespace Granary.Client;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over a Granary server's streaming Chat call, so Granary
/// plugs into anything written against the abstraction (middleware, agents, other providers' tests).
/// <see cref="ChatOptions"/> maps to sampling: Temperature, TopP, TopK, MaxOutputTokens, StopSequences, Seed,
/// ModelId, Instructions (a leading system message). Tools, response formats and penalties other than
/// repetition are not supported by the server and are ignored.
/// </summary>
public sealed class GranaryChatClient : IChatClient
{
    readonly GranaryClient _client;
    readonly bool _ownsClient;

    /// <summary>Chats through <paramref name="client"/>; <paramref name="defaultModel"/> is used when <see cref="ChatOptions.ModelId"/> is not set.</summary>
    /// <param name="client">The connection to the server.</param>
    /// <param name="defaultModel">A served model name, as <see cref="GranaryClient.ListModelsAsync"/> reports it.</param>
    /// <param name="ownsClient">Dispose <paramref name="client"/> with this chat client.</param>
    public GranaryChatClient(GranaryClient client, string? defaultModel = null, bool ownsClient = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _ownsClient = ownsClient;
        Metadata = new ChatClientMetadata("granary", client.Address, defaultModel);
    }

    /// <summary>Provider "granary", the server's address, and the default model.</summary>
    public ChatClientMetadata Metadata { get; }

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(
        IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    /// <summary>
    /// One update per streamed chunk: the assistant's text delta; the last update also carries the finish
    /// reason (stop or length) and the token usage.
    /// </summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<AiChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = ToRequest(messages, options);
        string responseId = Guid.NewGuid().ToString("N");
        var createdAt = DateTimeOffset.UtcNow;
        await foreach (var chunk in _client.ChatStreamingAsync(request, cancellationToken))
        {
            var update = new ChatResponseUpdate(ChatRole.Assistant, chunk.Text)
            {
                ResponseId = responseId,
                MessageId = responseId,
                ModelId = request.Model,
                CreatedAt = createdAt,
                FinishReason = ToFinishReason(chunk.FinishReason),
                RawRepresentation = chunk,
            };
            if (chunk.Usage is { } usage)
            {
                update.Contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = usage.PromptTokens,
                    OutputTokenCount = usage.CompletionTokens,
                    TotalTokenCount = usage.TotalTokens,
                }));
            }
            yield return update;
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return Metadata;
        if (serviceType == typeof(GranaryClient)) return _client;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Disposes the <see cref="GranaryClient"/> when this chat client owns it.</summary>
    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }

    ChatRequest ToRequest(IEnumerable<AiChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        string model = options?.ModelId ?? Metadata.DefaultModelId
            ?? throw new InvalidOperationException("no model: set ChatOptions.ModelId, or pass a default model to the GranaryChatClient");
        var request = new ChatRequest { Model = model, Sampling = ToSampling(options) };
        if (!string.IsNullOrEmpty(options?.Instructions))
            request.Messages.Add(new WireChatMessage { Role = ChatRole.System.Value, Content = options.Instructions });
        foreach (var message in messages)
            request.Messages.Add(new WireChatMessage { Role = message.Role.Value, Content = message.Text });
        return request;
    }

    static SamplingParams ToSampling(ChatOptions? options)
    {
        var sampling = new SamplingParams();
        if (options is null) return sampling;
        if (options.MaxOutputTokens is { } maxTokens) sampling.MaxTokens = maxTokens;
        if (options.Temperature is { } temperature) sampling.Temperature = temperature;
        if (options.TopP is { } topP) sampling.TopP = topP;
        if (options.TopK is { } topK) sampling.TopK = topK;
        if (options.Seed is { } seed) sampling.Seed = seed;
        if (options.StopSequences is { } stops) sampling.Stop.Add(stops);
        return sampling;
    }

    static ChatFinishReason? ToFinishReason(WireFinishReason reason) => reason switch
    {
        WireFinishReason.Stop => ChatFinishReason.Stop,
        WireFinishReason.Length => ChatFinishReason.Length,
        _ => null,
    };
}
