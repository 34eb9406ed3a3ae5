using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Api.OpenAi;

/// <summary>Reads a request body into its DTO; malformed JSON or a field of the wrong type is a 400 naming the field.</summary>
public static class RequestBodyReader
{
    public static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken) where T : class
    {
        T? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<T>(request.Body, OpenAiJson.Options, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            // The server's request timeout passed while the client was still sending.
            throw new OpenAiRequestException(new OpenAiError(StatusCodes.Status408RequestTimeout,
                "The request body did not arrive in time (Granary:Limits:RequestTimeoutSeconds)", "invalid_request_error", null, "request_timeout"));
        }
        catch (JsonException e)
        {
            // A syntax error comes from the reader (the inner exception); the path then only says where it stopped.
            bool isSyntaxError = e.InnerException is JsonException;
            string? param = isSyntaxError ? null : ParamOf(e.Path);
            string message = param is null
                ? "The request body is not a valid JSON object"
                : $"Invalid type or value for '{param}'";
            throw OpenAiRequestException.Invalid($"{message} ({Describe(e)})", param);
        }
        return body ?? throw OpenAiRequestException.Invalid("The request body must be a JSON object", null);
    }

    /// <summary>"$.messages[0].role" → "messages[0].role"; "$" → null.</summary>
    internal static string? ParamOf(string? jsonPath) =>
        jsonPath is null || jsonPath.Length <= 2 || !jsonPath.StartsWith("$.", StringComparison.Ordinal) ? null : jsonPath[2..];

    // JsonException messages name .NET types ("could not be converted to System.Double"); keep the position only.
    static string Describe(JsonException e) =>
        e.LineNumber is { } line ? $"line {line + 1}, position {e.BytePositionInLine ?? 0}" : "unexpected JSON";
}
