using System.Net.Http.Headers;
using System.Text;

namespace Granary.Server.Tests.Reliability.Fuzz;

/// <summary>Fuzz requests sent with HttpClient: broken JSON, broken bytes, wrong headers, oversized bodies, abandoned streams.</summary>
public static class HttpFuzzCases
{
    static readonly string[] Paths = ["/v1/completions", "/v1/chat/completions"];

    static readonly byte[][] BadUtf8 = [[0xC3, 0x28], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82]];

    public static async Task<FuzzOutcome> RunAsync(FuzzTarget target, Random random, int index)
    {
        bool chat = random.Next(2) == 0;
        string path = Paths[chat ? 1 : 0];
        switch (random.Next(10))
        {
            case 0:
            {
                string body = FuzzJson.Write(FuzzJson.ValidBody(random, chat, target.Model));
                return await SendAsync(target, new FuzzRequest(index, "valid", body), HttpMethod.Post, path, Encoding.UTF8.GetBytes(body));
            }
            case 1:
            case 2:
            {
                byte[] body = MutateBytes(random, Encoding.UTF8.GetBytes(FuzzJson.Write(FuzzJson.ValidBody(random, chat, target.Model))), out string how);
                return await SendAsync(target, new FuzzRequest(index, "bytes", how), HttpMethod.Post, path, body);
            }
            case 3:
                return await WrongRequestAsync(target, random, index, path);
            case 4:
            {
                int size = target.MaxRequestBodyBytes + random.Next(1, 100_000);
                string body = FuzzJson.Write([new("model", FuzzJson.Quote(target.Model)), new("prompt", FuzzJson.Quote(new string('a', size)))]);
                return await SendAsync(target, new FuzzRequest(index, "oversized", $"{size} bytes, chunked: {size % 2 == 0}"), HttpMethod.Post, path,
                    Encoding.UTF8.GetBytes(body), chunked: size % 2 == 0);
            }
            case 5:
                return await AbandonedStreamAsync(target, random, index, path, chat);
            default:
            {
                string body = FuzzJson.Mutated(random, chat, target.Model);
                return await SendAsync(target, new FuzzRequest(index, "json", body), HttpMethod.Post, path, Encoding.UTF8.GetBytes(body));
            }
        }
    }

    static byte[] MutateBytes(Random random, byte[] body, out string how)
    {
        var bytes = body.ToList();
        switch (random.Next(4))
        {
            case 0:
                int cut = random.Next(bytes.Count);
                how = $"truncated at {cut}";
                return bytes.Take(cut).ToArray();
            case 1:
                int at = random.Next(bytes.Count);
                var bad = BadUtf8[random.Next(BadUtf8.Length)];
                bytes.InsertRange(at, bad);
                how = $"bad UTF-8 {Convert.ToHexString(bad)} at {at}";
                return [.. bytes];
            case 2:
                int flip = random.Next(bytes.Count);
                bytes[flip] = (byte)random.Next(256);
                how = $"byte {flip} = {bytes[flip]}";
                return [.. bytes];
            default:
                // Bad UTF-8 inside a string value, where a lenient parser might let it through to the tokenizer.
                int quote = bytes.IndexOf((byte)'"', bytes.IndexOf((byte)':') + 1);
                var inside = BadUtf8[random.Next(BadUtf8.Length)];
                bytes.InsertRange(Math.Max(0, quote + 1), inside);
                how = $"bad UTF-8 {Convert.ToHexString(inside)} in a string";
                return [.. bytes];
        }
    }

    static async Task<FuzzOutcome> WrongRequestAsync(FuzzTarget target, Random random, int index, string path)
    {
        string body = FuzzJson.Write(FuzzJson.ValidBody(random, chat: path.Contains("chat"), target.Model));
        switch (random.Next(6))
        {
            case 0:
                return await SendAsync(target, new FuzzRequest(index, "method", $"GET {path}"), HttpMethod.Get, path, null);
            case 1:
                string unknown = "/v1/" + FuzzJson.RandomText(random, 8).Replace(' ', '_').Replace('\n', '_');
                return await SendAsync(target, new FuzzRequest(index, "path", unknown), HttpMethod.Post, Uri.EscapeDataString(unknown).Replace("%2F", "/"), Encoding.UTF8.GetBytes(body));
            case 2:
                return await SendAsync(target, new FuzzRequest(index, "content-type", "text/plain"), HttpMethod.Post, path, Encoding.UTF8.GetBytes(body), contentType: "text/plain");
            case 3:
                return await SendAsync(target, new FuzzRequest(index, "auth", "wrong key"), HttpMethod.Post, path, Encoding.UTF8.GetBytes(body), apiKey: "sk-" + random.Next());
            case 4:
                return await SendAsync(target, new FuzzRequest(index, "auth", "no key"), HttpMethod.Post, path, Encoding.UTF8.GetBytes(body), apiKey: "");
            default:
                return await SendAsync(target, new FuzzRequest(index, "empty", "no body"), HttpMethod.Post, path, []);
        }
    }

    /// <summary>A streaming request the client abandons after a few bytes: the server must free it and carry on.</summary>
    static async Task<FuzzOutcome> AbandonedStreamAsync(FuzzTarget target, Random random, int index, string path, bool chat)
    {
        var fields = FuzzJson.ValidBody(random, chat, target.Model).Where(f => f.Key is not ("stream" or "max_tokens")).ToList();
        fields.Add(new("stream", "true"));
        fields.Add(new("max_tokens", target.MaxGeneratedTokens.ToString()));
        fields.Add(new("ignore_eos", "true"));
        var request = new FuzzRequest(index, "abandoned-stream", path);
        using var message = NewMessage(target, HttpMethod.Post, path, Encoding.UTF8.GetBytes(FuzzJson.Write(fields)), "application/json", target.ApiKey, chunked: false);
        using var cancel = new CancellationTokenSource();
        try
        {
            using var response = await target.Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            int status = (int)response.StatusCode;
            await using var stream = await response.Content.ReadAsStreamAsync(cancel.Token);
            await stream.ReadAtLeastAsync(new byte[random.Next(1, 64)], 1, throwOnEndOfStream: false, cancel.Token);
            cancel.Cancel(); // walk away mid-stream
            return FuzzOutcome.Http(request, status, null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            return FuzzOutcome.NoResponse(request, e, isExpected: cancel.IsCancellationRequested);
        }
    }

    static async Task<FuzzOutcome> SendAsync(FuzzTarget target, FuzzRequest request, HttpMethod method, string path, byte[]? body,
        string contentType = "application/json", string? apiKey = null, bool chunked = false)
    {
        using var message = NewMessage(target, method, path, body, contentType, apiKey ?? target.ApiKey, chunked);
        try
        {
            using var response = await target.Http.SendAsync(message);
            string text = await response.Content.ReadAsStringAsync();
            return FuzzOutcome.Http(request, (int)response.StatusCode, text);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            // Kestrel may close a connection after refusing an oversized body before it was all sent.
            return FuzzOutcome.NoResponse(request, e, isExpected: request.Kind == "oversized");
        }
    }

    static HttpRequestMessage NewMessage(FuzzTarget target, HttpMethod method, string path, byte[]? body, string contentType, string apiKey, bool chunked)
    {
        var message = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            message.Content = chunked ? new StreamContent(new MemoryStream(body)) : new ByteArrayContent(body);
            message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            if (chunked) message.Headers.TransferEncodingChunked = true;
        }
        if (apiKey.Length > 0) message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return message;
    }
}
