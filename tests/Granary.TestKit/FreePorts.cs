using System.Net;
using System.Net.Sockets;

namespace Granary.TestKit;

/// <summary>Loopback ports nothing listens on right now (bound and released; good enough for tests).</summary>
public static class FreePorts
{
    public static int Next() => Next(1)[0];

    /// <summary>All held open together so they differ, then released for the caller.</summary>
    public static int[] Next(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            foreach (var listener in listeners) listener.Start();
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var listener in listeners) listener.Stop();
        }
    }
}
