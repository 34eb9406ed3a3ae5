using Granary.Abstractions.Serving;
using Microsoft.AspNetCore.Http;

namespace Granary.Server.Api.OpenAi;

/// <summary>An error as the OpenAI API reports it: an HTTP status and <c>{"error": {message, type, param, code}}</c>.</summary>
public sealed record OpenAiError(int Status, string Message, string Type, string? Param = null, string? Code = null)
{
    public static OpenAiError InvalidRequest(string message, string? param = null, string? code = null) =>
        new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static OpenAiError ModelNotFound(string model) =>
        new(StatusCodes.Status404NotFound, $"The model `{model}` does not exist.", "invalid_request_error", "model", "model_not_found");

    public static OpenAiError InvalidApiKey(string message) =>
        new(StatusCodes.Status401Unauthorized, message, "invalid_request_error", null, "invalid_api_key");

    public static OpenAiError Unavailable(string message) =>
        new(StatusCodes.Status503ServiceUnavailable, message, "service_unavailable", null, "deployment_unavailable");

    /// <summary>A per-key limit: the client should slow down (the response carries Retry-After).</summary>
    public static OpenAiError RateLimited(string message, string code) =>
        new(StatusCodes.Status429TooManyRequests, message, "rate_limit_error", null, code);

    /// <summary>The server's request timeout passed while the request was running.</summary>
    public static OpenAiError Timeout(string message) =>
        new(StatusCodes.Status504GatewayTimeout, message, "timeout_error", null, "request_timeout");

    public static OpenAiError Internal(string message) =>
        new(StatusCodes.Status500InternalServerError, message, "server_error");

    /// <summary>How a deployment's refusal or failure reaches the client.</summary>
    public static OpenAiError FromServing(ServingError error) => error.Kind switch
    {
        ServingErrorKind.InvalidRequest => InvalidRequest(error.Message),
        ServingErrorKind.QueueFull => new(StatusCodes.Status429TooManyRequests, error.Message, "rate_limit_error", null, "queue_full"),
        ServingErrorKind.Unavailable => Unavailable(error.Message),
        _ => Internal(error.Message),
    };

    public ErrorBody ToBody() => new(new ErrorDetail(Message, Type, Param, Code));

    public IResult ToResult() => Results.Json(ToBody(), OpenAiJson.Options, statusCode: Status);

    public sealed record ErrorBody(ErrorDetail Error);

    public sealed record ErrorDetail(string Message, string Type, string? Param, string? Code);
}
