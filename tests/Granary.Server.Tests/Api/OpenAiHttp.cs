using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Granary.Server.Tests.Api;

/// <summary>A response read whole: its status and its body as JSON (or null when the body is not JSON).</summary>
public sealed record JsonReply(HttpStatusCode Status, JsonElement? Body, string Raw)
{
    public JsonElement Json => Body ?? throw new Xunit.Sdk.XunitException($"the body is not JSON: {Raw}");

    /// <summary>Asserts a 200 and returns the body.</summary>
    public JsonElement Ok()
    {
        Assert.True(Status == HttpStatusCode.OK, $"expected 200, got {(int)Status}: {Raw}");
        return Json;
    }

    public override string ToString() => $"{(int)Status} {Raw}";
}

/// <summary>A streamed response: the status, the content type, and the payload of each <c>data:</c> event in order.</summary>
public sealed record SseReply(HttpStatusCode Status, string? ContentType, IReadOnlyList<string> Events, string Raw)
{
    /// <summary>Every event but the final [DONE], parsed.</summary>
    public IReadOnlyList<JsonElement> JsonEvents => Events.Where(e => e != "[DONE]").Select(Parse).ToList();

    static JsonElement Parse(string data)
    {
        using var document = JsonDocument.Parse(data);
        return document.RootElement.Clone();
    }
}

/// <summary>Calls the OpenAI API of a test process and reads its replies, including server-sent event streams.</summary>
public static class OpenAiHttp
{
    public static Task<JsonReply> PostJsonAsync(this HttpClient http, string path, object body, string? apiKey = null) =>
        http.PostRawAsync(path, JsonSerializer.Serialize(body), apiKey);

    public static async Task<JsonReply> PostRawAsync(this HttpClient http, string path, string body, string? apiKey = null)
    {
        using var request = Request(HttpMethod.Post, path, body, apiKey);
        using var response = await http.SendAsync(request);
        return await ReadJsonAsync(response);
    }

    public static async Task<JsonReply> GetJsonAsync(this HttpClient http, string path, string? apiKey = null)
    {
        using var request = Request(HttpMethod.Get, path, body: null, apiKey);
        using var response = await http.SendAsync(request);
        return await ReadJsonAsync(response);
    }

    /// <summary>Posts with "stream": true added and reads the whole event stream.</summary>
    public static async Task<SseReply> StreamAsync(this HttpClient http, string path, string json, string? apiKey = null)
    {
        var body = JsonNode.Parse(json)!.AsObject();
        body["stream"] = true;
        using var request = Request(HttpMethod.Post, path, body.ToJsonString(), apiKey);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        string raw = await response.Content.ReadAsStringAsync();
        return new SseReply(response.StatusCode, response.Content.Headers.ContentType?.MediaType, ParseEvents(raw), raw);
    }

    /// <summary>
    /// The payloads of a server-sent event stream. Asserts the framing the OpenAI clients rely on: every
    /// event is one "data: " line followed by a blank line, and nothing else is sent.
    /// </summary>
    public static IReadOnlyList<string> ParseEvents(string raw)
    {
        Assert.True(raw.EndsWith("\n\n", StringComparison.Ordinal), $"the stream must end with a blank line: {raw}");
        var events = new List<string>();
        foreach (string block in raw[..^2].Split("\n\n"))
        {
            Assert.StartsWith("data: ", block);
            Assert.DoesNotContain('\n', block);
            events.Add(block["data: ".Length..]);
        }
        return events;
    }

    public static HttpRequestMessage Request(HttpMethod method, string path, string? body, string? apiKey)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return request;
    }

    static async Task<JsonReply> ReadJsonAsync(HttpResponseMessage response)
    {
        string raw = await response.Content.ReadAsStringAsync();
        try
        {
            using var document = JsonDocument.Parse(raw);
            return new JsonReply(response.StatusCode, document.RootElement.Clone(), raw);
        }
        catch (JsonException)
        {
            return new JsonReply(response.StatusCode, null, raw);
        }
    }

    /// <summary>
    /// Asserts an OpenAI error: the status, <c>{"error": {message, type, param, code}}</c> with the given
    /// param (and code, when given), and no stack trace in the message.
    /// </summary>
    public static JsonElement AssertError(JsonReply reply, HttpStatusCode status, string? param, string? code = null, string? type = null)
    {
        Assert.True(reply.Status == status, $"expected {(int)status}, got {reply}");
        var error = reply.Json.GetProperty("error");
        string message = error.GetProperty("message").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.DoesNotContain("   at ", message);
        Assert.DoesNotContain("Exception", message);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        if (type is not null) Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.True(error.TryGetProperty("param", out var actualParam), "error.param must be present (null when none)");
        Assert.Equal(param, actualParam.ValueKind == JsonValueKind.Null ? null : actualParam.GetString());
        Assert.True(error.TryGetProperty("code", out var actualCode), "error.code must be present (null when none)");
        if (code is not null) Assert.Equal(code, actualCode.GetString());
        return error;
    }

    public static string Text(JsonElement completion) => completion.GetProperty("choices")[0].GetProperty("text").GetString()!;

    public static string ChatText(JsonElement completion) =>
        completion.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

    public static string FinishReason(JsonElement completion) => completion.GetProperty("choices")[0].GetProperty("finish_reason").GetString()!;

    /// <summary>Sampled token ids of a completion that asked for logprobs with "return_tokens_as_token_ids".</summary>
    public static int[] CompletionTokenIds(JsonElement completion) =>
        completion.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("tokens").EnumerateArray()
            .Select(t => TokenId(t.GetString()!)).ToArray();

    public static int TokenId(string token)
    {
        Assert.StartsWith("token_id:", token);
        return int.Parse(token["token_id:".Length..]);
    }
}
