using System.Diagnostics;
using System.Net.Sockets;

namespace Granary.TestKit;

/// <summary>
/// A real <c>redis-server</c> on a free loopback port, without persistence, stopped on dispose. Fails with a
/// clear message when redis-server is not installed (.ci/run installs it).
/// </summary>
public sealed class RedisServer : IDisposable
{
    readonly Process _process;

    public RedisServer()
    {
        Port = FreePorts.Next();
        var start = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes" })
            start.ArgumentList.Add(arg);
        try
        {
            _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is not installed (apt-get install -y redis-server; .ci/run does this)", e);
        }
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitForPong(TimeSpan.FromSeconds(15));
    }

    public int Port { get; }

    /// <summary>HOST:PORT, as `granary serve --redis` takes it.</summary>
    public string Address => $"127.0.0.1:{Port}";

    void WaitForPong(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode}");
            try
            {
                using var client = new TcpClient("127.0.0.1", Port);
                using var stream = client.GetStream();
                stream.Write("PING\r\n"u8);
                var buffer = new byte[16];
                int read = stream.Read(buffer);
                if (System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG")) return;
            }
            catch (SocketException)
            {
            }
            Thread.Sleep(100);
        }
        throw new TimeoutException($"redis-server did not answer PING on port {Port} within {timeout.TotalSeconds:F0} s");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
