using Microsoft.AspNetCore.Http;

namespace Granary.Server.Telemetry;

/// <summary>
/// Middleware on the scrape endpoint that turns the <c>vllm_</c> metric-name prefix the OpenTelemetry exporter
/// writes back into vLLM's <c>vllm:</c> (see <see cref="MetricNames"/>). Only metric names change: a sample line
/// starting with <c>vllm_</c>, and <c># TYPE</c> / <c># HELP</c> / <c># UNIT</c> lines naming one. The swap is one
/// byte for one byte, so the body keeps its length.
/// </summary>
/// <remarks>
/// NOTE: the exporter gzips its answer when asked (Prometheus always asks); the rewrite needs plain text, so the
/// request's <c>Accept-Encoding</c> is dropped before the exporter sees it. A scrape is a few tens of kB.
/// </remarks>
public sealed class PrometheusNameRestorer(RequestDelegate next)
{
    static readonly byte[] Prefix = "vllm_"u8.ToArray();
    static readonly byte[][] Comments = ["# TYPE "u8.ToArray(), "# HELP "u8.ToArray(), "# UNIT "u8.ToArray()];

    public async Task InvokeAsync(HttpContext context)
    {
        context.Request.Headers.AcceptEncoding = default;
        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }
        byte[] body = buffer.ToArray();
        Restore(body);
        await original.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>Rewrites <paramref name="text"/> (Prometheus or OpenMetrics exposition, UTF-8) in place.</summary>
    public static void Restore(Span<byte> text)
    {
        int lineStart = 0;
        while (lineStart < text.Length)
        {
            var line = text[lineStart..];
            int end = line.IndexOf((byte)'\n');
            if (end >= 0) line = line[..end];
            RestoreLine(line);
            lineStart += (end >= 0 ? end : line.Length) + 1;
        }
    }

    static void RestoreLine(Span<byte> line)
    {
        int nameStart = 0;
        foreach (byte[] comment in Comments)
            if (line.StartsWith(comment))
            {
                nameStart = comment.Length;
                break;
            }
        if (line[nameStart..].StartsWith(Prefix)) line[nameStart + Prefix.Length - 1] = (byte)':';
    }
}
