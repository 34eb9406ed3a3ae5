using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Granary.Server.Benchmarks;

/// <summary>
/// Streams completions over the OpenAI HTTP API (POST /v1/completions, server-sent events), as any OpenAI
/// client does: yields each chunk's tokens as it arrives, and throws <see cref="InvalidOperationException"/>
/// for a refusal, an error event or a stream that ends without [DONE].
/// </summary>
public sealed class HttpStreamingClient(HttpClient http, string model, string? apiKey = null) : IStreamingCompletionClient
{
    public async IAsyncEnumerable<int> StreamAsync(BenchCompletion completion, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = model,
            ["prompt"] = completion.Prompt,
            ["max_tokens"] = completion.MaxTokens,
            ["temperature"] = 0,
            ["ignore_eos"] = true,
            ["stream"] = true,
            ["return_tokens_as_token_ids"] = true,
            ["logprobs"] = 0, // one logprob entry per token: the token count of each chunk
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line["data: ".Length..];
            if (data == "[DONE]") yield break;
            int numTokens = CountTokens(data);
            if (numTokens > 0) yield return numTokens;
        }
        throw new InvalidOperationException("the stream ended without [DONE]");
    }

    static int CountTokens(string data)
    {
        using var chunk = JsonDocument.Parse(data);
        if (chunk.RootElement.TryGetProperty("error", out var error)) throw new InvalidOperationException($"error event: {error}");
        int count = 0;
        foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            if (choice.TryGetProperty("logprobs", out var logprobs) && logprobs.ValueKind == JsonValueKind.Object)
                count += logprobs.GetProperty("tokens").GetArrayLength();
        return count;
    }
}
