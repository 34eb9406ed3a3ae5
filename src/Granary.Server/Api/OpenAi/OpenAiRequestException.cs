namespace Granary.Server.Api.OpenAi;

/// <summary>Thrown while reading and validating a request; the endpoint answers with <see cref="Error"/>.</summary>
public sealed class OpenAiRequestException(OpenAiError error) : Exception(error.Message)
{
    public OpenAiError Error { get; } = error;

    public static OpenAiRequestException Invalid(string message, string? param, string? code = null) =>
        new(OpenAiError.InvalidRequest(message, param, code));
}
