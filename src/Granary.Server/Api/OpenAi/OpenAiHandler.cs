using Granary.Server.Api.Limits;
using Granary.Server.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Granary.Server.Api.OpenAi;

/// <summary>What every OpenAI endpoint does around its own work: client mistakes become OpenAI error bodies, never a 500.</summary>
public static class OpenAiHandler
{
    public static async Task<IResult> GuardAsync(HttpContext http, Func<Task<IResult>> handle)
    {
        try
        {
            return await handle();
        }
        catch (OpenAiRequestException e)
        {
            return e.Error.ToResult();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            var limits = http.RequestServices.GetService<RequestLimits>() ?? RequestLimits.Default;
            http.Response.Headers.Connection = "close"; // the rest of the body is never read
            return AdmissionEndpointFilter.BodyTooLarge(limits.Options.MaxRequestBodyBytes).ToResult();
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own refusals: a body over the size limit, a truncated body.
            return new OpenAiError(e.StatusCode, e.Message, "invalid_request_error").ToResult();
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return Results.Empty; // the client left; nobody reads the answer
        }
        catch (OperationCanceledException) when (AdmissionEndpointFilter.DeadlineOf(http) is { IsExpired: true } deadline)
        {
            return OpenAiError.Timeout(deadline.Message).ToResult();
        }
        catch (Exception e)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OpenAiHandler))
                .LogError(e, "{Method} {Path} failed", http.Request.Method, http.Request.Path);
            return OpenAiError.Internal("The server failed to process the request").ToResult();
        }
    }

    /// <summary>The deployment a request names: 400 without a name, 404 for a name nobody serves.</summary>
    public static ModelFrontend FindModel(ModelGateway gateway, string? name)
    {
        if (string.IsNullOrEmpty(name)) throw OpenAiRequestException.Invalid("model is required", "model");
        return gateway.Find(name) ?? throw new OpenAiRequestException(OpenAiError.ModelNotFound(name));
    }
}
