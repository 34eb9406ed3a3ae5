using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Granary.Server.Tests.Support;

/// <summary>A meter factory of its own, for objects a test builds by hand outside a host.</summary>
public static class TestMeters
{
    public static IMeterFactory Factory() => new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
}
