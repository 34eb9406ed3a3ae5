using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;
using Granary.Grpc.V1;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Grpc.Core;

namespace Granary.Server.Api.Grpc;

/// <summary>
/// Checks a gRPC call's request message before gRPC does. The gRPC server answers a message it cannot read
/// (bad protobuf, a cut-off frame, the compressed flag without an encoding, a second message) with Internal
/// or Unknown, as if the server had failed; here each is InvalidArgument naming the problem, and a message
/// over the size limit is ResourceExhausted. The checked body is handed on to gRPC unchanged.
/// </summary>
internal static class GrpcRequestGuard
{
    const int PrefixLength = 5; // compressed flag + big-endian message length

    static readonly Dictionary<string, MessageParser> Parsers = new(StringComparer.Ordinal)
    {
        ["/granary.v1.Granary/Generate"] = GenerateRequest.Parser,
        ["/granary.v1.Granary/Chat"] = ChatRequest.Parser,
        ["/granary.v1.Granary/ListModels"] = ListModelsRequest.Parser,
        ["/granary.v1.Granary/Health"] = HealthRequest.Parser,
    };

    public static async Task InvokeAsync(HttpContext http, RequestDelegate next, long maxMessageBytes)
    {
        if (http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) != true)
        {
            await next(http);
            return;
        }
        // gRPC checks message sizes itself; Kestrel's body limit would cut the stream under it with an opaque error.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize) bodySize.MaxRequestBodySize = null;
        if (!Parsers.TryGetValue(http.Request.Path.Value ?? "", out var parser))
        {
            await next(http); // gRPC answers Unimplemented
            return;
        }
        var (body, problem) = await ReadBodyAsync(http.Request, maxMessageBytes + PrefixLength, http.RequestAborted);
        problem ??= Check(body!, parser, http.Request.Headers["grpc-encoding"].ToString(), maxMessageBytes);
        if (problem is { } status)
        {
            await RefuseAsync(http, status);
            return;
        }
        http.Request.Body = new MemoryStream(body!, writable: false);
        await next(http);
    }

    static async Task<(byte[]? Body, Status? Problem)> ReadBodyAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int read = await request.Body.ReadAsync(buffer, cancellationToken);
            if (read == 0) return (body.ToArray(), null);
            body.Write(buffer, 0, read);
            if (body.Length > maxBytes)
                return (null, new Status(StatusCode.ResourceExhausted, $"the request message is larger than this server accepts ({maxBytes - PrefixLength} bytes, Granary:Limits:MaxRequestBodyBytes)"));
        }
    }

    static Status? Check(byte[] body, MessageParser parser, string encoding, long maxMessageBytes)
    {
        if (body.Length < PrefixLength) return Invalid("the request holds no complete message (its 5-byte prefix is cut off)");
        bool isCompressed = body[0] == 1;
        if (body[0] > 1) return Invalid($"the message's compressed flag is {body[0]}; it must be 0 or 1");
        long length = BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1));
        if (length > maxMessageBytes)
            return new Status(StatusCode.ResourceExhausted, $"the request message is larger than this server accepts ({maxMessageBytes} bytes, Granary:Limits:MaxRequestBodyBytes)");
        if (PrefixLength + length > body.Length) return Invalid($"the message is cut off: its prefix says {length} bytes, {body.Length - PrefixLength} arrived");
        if (PrefixLength + length < body.Length) return Invalid("the request holds more than one message; this call takes one");
        var message = body.AsMemory(PrefixLength, (int)length);
        if (isCompressed)
        {
            if (encoding is "" or "identity") return Invalid("the message is flagged compressed but the call names no grpc-encoding");
            if (encoding != "gzip") return null; // gRPC answers an encoding it does not know itself
            try
            {
                message = Gunzip(message, maxMessageBytes);
            }
            catch (InvalidDataException)
            {
                return Invalid("the gzip-compressed message does not decompress");
            }
        }
        try
        {
            parser.ParseFrom(message.Span);
            return null;
        }
        catch (InvalidProtocolBufferException e)
        {
            return Invalid($"the request message is not a valid protobuf message: {e.Message}");
        }
    }

    static byte[] Gunzip(ReadOnlyMemory<byte> compressed, long maxBytes)
    {
        using var gzip = new GZipStream(new MemoryStream(compressed.ToArray()), CompressionMode.Decompress);
        var output = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = gzip.Read(buffer)) > 0)
        {
            output.Write(buffer, 0, read);
            if (output.Length > maxBytes) throw new InvalidDataException("decompresses past the message size limit");
        }
        return output.ToArray();
    }

    static Status Invalid(string message) => new(StatusCode.InvalidArgument, message);

    /// <summary>A "trailers-only" gRPC response: HTTP 200, the status in the headers, no message.</summary>
    static Task RefuseAsync(HttpContext http, Status status)
    {
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)status.StatusCode).ToString();
        response.Headers["grpc-message"] = Uri.EscapeDataString(status.Detail);
        return Task.CompletedTask;
    }
}
