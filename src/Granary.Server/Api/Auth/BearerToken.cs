namespace Granary.Server.Api.Auth;

/// <summary>Reads the key out of an <c>Authorization: Bearer &lt;key&gt;</c> header (HTTP or gRPC metadata).</summary>
public static class BearerToken
{
    const string Scheme = "Bearer ";

    /// <summary>The key, or null when the header is missing or is not a bearer token.</summary>
    public static string? Parse(string? authorizationHeader)
    {
        if (authorizationHeader is null || !authorizationHeader.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return null;
        string key = authorizationHeader[Scheme.Length..].Trim();
        return key.Length == 0 ? null : key;
    }
}
