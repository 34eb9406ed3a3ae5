using System.Security.Cryptography;
using System.Text;
using Granary.Server.Hosting;

namespace Granary.Server.Api.Grpc;

/// <summary>
/// The configured API keys (<see cref="GranaryServerOptions.ApiKeys"/>) and whose each one is. The gRPC service
/// asks only <see cref="IsEnabled"/> and <see cref="TenantFor"/>, so one registry shared with the HTTP API can
/// take this class's place.
/// </summary>
internal sealed class ApiKeyLookup
{
    readonly (byte[] KeyHash, string Tenant)[] _keys;

    public ApiKeyLookup(IEnumerable<ApiKeyOptions> keys)
    {
        _keys = keys.Select(k => (Hash(k.Key), k.Tenant)).ToArray();
    }

    public static ApiKeyLookup From(GranaryServerOptions? options) => new(options?.ApiKeys ?? []);

    /// <summary>True when any key is configured: then every call must present one.</summary>
    public bool IsEnabled => _keys.Length > 0;

    /// <summary>The tenant of <paramref name="key"/>, or null when it is no configured key.</summary>
    public string? TenantFor(string key)
    {
        // Hashing first gives every comparison the same length, so the time taken says nothing about the
        // keys; and every key is compared, so neither does which one matched.
        byte[] hash = Hash(key);
        string? tenant = null;
        foreach (var (keyHash, keyTenant) in _keys)
            if (CryptographicOperations.FixedTimeEquals(hash, keyHash)) tenant ??= keyTenant;
        return tenant;
    }

    static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
