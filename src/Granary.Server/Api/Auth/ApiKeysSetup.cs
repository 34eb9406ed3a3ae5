using Granary.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Granary.Server.Api.Auth;

public static class ApiKeysSetup
{
    /// <summary>
    /// Registers the one <see cref="ApiKeyRegistry"/> every API (HTTP, gRPC) checks keys with: from
    /// <see cref="GranaryServerOptions.ApiKeys"/> when the host registered options, else open. Safe to call
    /// more than once; a host may register its own registry first.
    /// </summary>
    public static IServiceCollection AddApiKeyRegistry(this IServiceCollection services)
    {
        services.TryAddSingleton(provider => provider.GetService<GranaryServerOptions>() is { } options
            ? new ApiKeyRegistry(options.ApiKeys)
            : ApiKeyRegistry.Open);
        return services;
    }
}
