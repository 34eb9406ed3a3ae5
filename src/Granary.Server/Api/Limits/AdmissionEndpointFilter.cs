using Granary.Server.Api.Auth;
using Granary.Server.Api.OpenAi;
using Granary.Server.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Granary.Server.Api.Limits;

/// <summary>
/// Guards the generation routes after the API key check: a body over the size limit is a 413 before it is
/// read, a request its key may not start now is a 429 with Retry-After (503 while draining), and an admitted
/// one gets its <see cref="RequestDeadline"/>. Its admission is released when the response is complete
/// (streams included, which run after the handler returned).
/// </summary>
public sealed class AdmissionEndpointFilter(TenantAdmission admission, RequestLimits limits) : IEndpointFilter
{
    static readonly object DeadlineItem = new();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        long maxBody = limits.Options.MaxRequestBodyBytes;
        if (http.Request.ContentLength > maxBody)
        {
            // The body stays unread, so the connection cannot carry another request: tell the client not to reuse it.
            http.Response.Headers.Connection = "close";
            return BodyTooLarge(maxBody).ToResult();
        }
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize) bodySize.MaxRequestBodySize = maxBody;

        var result = admission.TryAdmit(ApiKeyEndpointFilter.TenantOf(http));
        if (result.Refusal is { } refusal)
        {
            http.Response.Headers.RetryAfter = refusal.RetryAfterSeconds.ToString();
            return (refusal.IsDraining
                ? OpenAiError.Unavailable(refusal.Message) with { Code = refusal.Code }
                : OpenAiError.RateLimited(refusal.Message, refusal.Code)).ToResult();
        }
        http.Response.RegisterForDispose(result.Admission!);
        var deadline = new RequestDeadline(limits.Timeout, http.RequestAborted);
        http.Response.RegisterForDispose(deadline);
        http.Items[DeadlineItem] = deadline;
        return await next(context);
    }

    /// <summary>The deadline of an admitted request; one without a limit for requests that skipped the filter.</summary>
    public static RequestDeadline DeadlineOf(HttpContext http)
    {
        if (http.Items.TryGetValue(DeadlineItem, out var item) && item is RequestDeadline deadline) return deadline;
        var unlimited = new RequestDeadline(null, http.RequestAborted);
        http.Response.RegisterForDispose(unlimited);
        http.Items[DeadlineItem] = unlimited;
        return unlimited;
    }

    public static OpenAiError BodyTooLarge(long maxBytes) => new(StatusCodes.Status413PayloadTooLarge,
        $"The request body is larger than this server accepts ({maxBytes} bytes, Granary:Limits:MaxRequestBodyBytes)",
        "invalid_request_error", null, "request_too_large");

    /// <summary>Limits from the host's <see cref="GranaryServerOptions"/>, else the defaults.</summary>
    public static RequestLimitsOptions OptionsFrom(IServiceProvider services) =>
        services.GetService<GranaryServerOptions>()?.Limits ?? new RequestLimitsOptions();
}
