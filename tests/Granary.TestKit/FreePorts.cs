using System.Net;
using System.Net.Sockets;

namespace Granary.TestKit;

/// <summary>Loopback ports nothing listens on right now (bound and released; good enough for tests).</summary>
public static class FreePorts
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static int[] Next(int count)
    {
        var ports = new HashSet<int>();
        while (ports.Count < count) ports.Add(Next());
        return ports.ToArray();
    }
}
