using System.Security.Cryptography;
using System.Text;
using Granary.Server.Hosting;

namespace Granary.Server.Api.Auth;

/// <summary>
/// The configured API keys, held only as SHA-256 hashes, and the tenant each belongs to. Shared by the HTTP
/// and gRPC APIs: both hand it the key a caller presented and get back whose it is, or null.
/// </summary>
public sealed class ApiKeyRegistry
{
    readonly (byte[] Hash, string Tenant)[] _keys;

    public ApiKeyRegistry(IEnumerable<ApiKeyOptions> keys)
    {
        _keys = keys.Select(k => (Hash(k.Key), k.Tenant)).ToArray();
    }

    /// <summary>No keys configured: every caller is let in, with no tenant.</summary>
    public static ApiKeyRegistry Open { get; } = new([]);

    /// <summary>True when callers must present a key.</summary>
    public bool IsEnabled => _keys.Length > 0;

    /// <summary>The tenant of <paramref name="presentedKey"/>, or null when it is not a configured key.</summary>
    public string? TenantFor(string? presentedKey)
    {
        if (string.IsNullOrEmpty(presentedKey)) return null;
        byte[] presented = Hash(presentedKey);
        string? tenant = null;
        // NOTE: every entry is compared, each in constant time, so the time taken does not say which key
        // (or how much of one) matched.
        foreach (var (hash, owner) in _keys)
            if (CryptographicOperations.FixedTimeEquals(hash, presented) && tenant is null) tenant = owner;
        return tenant;
    }

    static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
