using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Granary.Server.Tests.Reliability;

/// <summary>A gRPC call's outcome as it came over the wire: the HTTP status, grpc-status and message, and the response messages' bytes.</summary>
public sealed record GrpcReply(HttpStatusCode HttpStatus, int? GrpcStatus, string? GrpcMessage, IReadOnlyList<byte[]> Messages, IReadOnlyDictionary<string, string> Trailers)
{
    public override string ToString() => $"HTTP {(int)HttpStatus}, grpc-status {GrpcStatus?.ToString() ?? "none"}: {GrpcMessage}";
}

/// <summary>
/// gRPC spoken by hand over HTTP/2, so a test can send what no generated client would: any bytes as the
/// message, a wrong length prefix, a cut-off frame. A message is a 5-byte prefix (compressed flag, big-endian length) and its bytes.
/// </summary>
public static class GrpcWire
{
    public const string GeneratePath = "/granary.v1.Granary/Generate";
    public const string ChatPath = "/granary.v1.Granary/Chat";
    public const string ListModelsPath = "/granary.v1.Granary/ListModels";

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    public static byte[] Frame(byte[] payload, bool compressed = false, int? declaredLength = null)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)(declaredLength ?? payload.Length));
        payload.CopyTo(frame, 5);
        return frame;
    }

    public static async Task<GrpcReply> CallAsync(HttpClient http, string path, byte[] body, string? apiKey = null,
        string contentType = "application/grpc", CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        byte[] bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var trailers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        // A call that fails before any message answers "trailers-only": the status rides in the headers.
        foreach (var (name, values) in response.Headers.Concat(response.TrailingHeaders))
            trailers[name] = string.Join(",", values);
        int? status = trailers.TryGetValue("grpc-status", out var code) && int.TryParse(code, out int parsed) ? parsed : null;
        string? message = trailers.TryGetValue("grpc-message", out var text) ? Uri.UnescapeDataString(text) : null;
        return new GrpcReply(response.StatusCode, status, message, Unframe(bytes), trailers);
    }

    static List<byte[]> Unframe(byte[] bytes)
    {
        var messages = new List<byte[]>();
        int offset = 0;
        while (offset + 5 <= bytes.Length)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset + 1));
            if (offset + 5 + length > bytes.Length) break;
            messages.Add(bytes.AsSpan(offset + 5, length).ToArray());
            offset += 5 + length;
        }
        return messages;
    }
}
