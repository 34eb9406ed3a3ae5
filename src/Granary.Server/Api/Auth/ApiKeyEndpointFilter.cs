using Granary.Server.Api.OpenAi;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Granary.Server.Api.Auth;

/// <summary>
/// Guards the OpenAI routes: when keys are configured, a call without a valid bearer key gets 401 with an
/// OpenAI error body; a valid one records its tenant for the handler (<see cref="TenantOf"/>).
/// </summary>
public sealed class ApiKeyEndpointFilter(ApiKeyRegistry keys) : IEndpointFilter
{
    static readonly object TenantItem = new();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (!keys.IsEnabled) return await next(context);
        var http = context.HttpContext;
        string? key = BearerToken.Parse(http.Request.Headers[HeaderNames.Authorization]);
        if (keys.TenantFor(key) is not { } tenant)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return OpenAiError.InvalidApiKey(key is null
                ? "Missing API key: send it as \"Authorization: Bearer <key>\""
                : "Incorrect API key provided").ToResult();
        }
        http.Items[TenantItem] = tenant;
        return await next(context);
    }

    /// <summary>The tenant of the key this request presented, or null when keys are not configured.</summary>
    public static string? TenantOf(HttpContext http) => http.Items.TryGetValue(TenantItem, out var tenant) ? tenant as string : null;
}
