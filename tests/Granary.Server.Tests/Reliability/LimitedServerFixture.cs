namespace Granary.Server.Tests.Reliability;

/// <summary>
/// A server with every request limit set low. Each test uses its own API key (tenant), so the per-key
/// limits one test trips never meet another's requests.
/// </summary>
public sealed class LimitedServerFixture() : InProcessServerFixture(contextLength: 32768)
{
    public const int MaxPromptTokens = 64;
    public const int MaxGeneratedTokens = 30000;
    public const int MaxRequestBodyBytes = 16 * 1024;
    public const int MaxConcurrentRequestsPerKey = 2;
    public const int RequestsPerMinutePerKey = 4;
    public const double RequestTimeoutSeconds = 6; // long enough that the concurrency test's streams outlive its third request on a loaded machine

    public static readonly string[] Tenants = ["prompt", "tokens", "body", "concurrency", "rate", "timeout", "stream-timeout", "grpc", "grpc-rate"];

    /// <summary>The API key of <paramref name="tenant"/>.</summary>
    public static string KeyOf(string tenant) => $"sk-limits-{tenant}";

    protected override IReadOnlyDictionary<string, string?> Settings
    {
        get
        {
            var settings = new Dictionary<string, string?>
            {
                ["Limits:MaxPromptTokens"] = MaxPromptTokens.ToString(),
                ["Limits:MaxGeneratedTokens"] = MaxGeneratedTokens.ToString(),
                ["Limits:MaxRequestBodyBytes"] = MaxRequestBodyBytes.ToString(),
                ["Limits:MaxConcurrentRequestsPerKey"] = MaxConcurrentRequestsPerKey.ToString(),
                ["Limits:RequestsPerMinutePerKey"] = RequestsPerMinutePerKey.ToString(),
                ["Limits:RequestTimeoutSeconds"] = RequestTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            for (int i = 0; i < Tenants.Length; i++)
            {
                settings[$"ApiKeys:{i}:Key"] = KeyOf(Tenants[i]);
                settings[$"ApiKeys:{i}:Tenant"] = Tenants[i];
            }
            return settings;
        }
    }
}
