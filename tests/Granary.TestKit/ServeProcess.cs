using System.Collections.Concurrent;
using System.Diagnostics;

namespace Granary.TestKit;

/// <summary>
/// A real `granary serve` process (the Server's build output, <c>dotnet granary.dll serve …</c>) on free
/// loopback ports, waited on until GET /health/ready answers 200, and killed on dispose. Its output is kept
/// for failure messages.
/// </summary>
public sealed class ServeProcess : IDisposable
{
    readonly Process _process;
    readonly ConcurrentQueue<string> _output = new();

    public ServeProcess(string granaryDll, IEnumerable<string> extraArgs, IDictionary<string, string>? environment = null,
        TimeSpan? readyTimeout = null)
    {
        int[] ports = FreePorts.Next(4);
        (HttpPort, GrpcPort, SiloPort, GatewayPort) = (ports[0], ports[1], ports[2], ports[3]);
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.ArgumentList.Add(granaryDll);
        foreach (string arg in new[] { "serve", "--urls", HttpUrl, "--grpc-urls", GrpcUrl, "--silo-port", SiloPort.ToString(), "--gateway-port", GatewayPort.ToString() })
            start.ArgumentList.Add(arg);
        foreach (string arg in extraArgs) start.ArgumentList.Add(arg);
        start.Environment.Remove("GRANARY_DEBUG");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        try
        {
            WaitUntilReady(readyTimeout ?? TimeSpan.FromSeconds(90));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int HttpPort { get; }
    public int GrpcPort { get; }
    public int SiloPort { get; }
    public int GatewayPort { get; }

    public string HttpUrl => $"http://127.0.0.1:{HttpPort}";
    public string GrpcUrl => $"http://127.0.0.1:{GrpcPort}";

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process printed so far.</summary>
    public string Output => string.Join('\n', _output);

    void WaitUntilReady(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"granary serve exited with code {_process.ExitCode} before it was ready:\n{Output}");
            try
            {
                using var response = http.GetAsync($"{HttpUrl}/health/ready").GetAwaiter().GetResult();
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            Thread.Sleep(250);
        }
        throw new TimeoutException($"granary serve was not ready within {timeout.TotalSeconds:F0} s:\n{Output}");
    }

    /// <summary>Kills the process (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    /// <summary>The dotnet host running these tests, else `dotnet` on the PATH.</summary>
    static string DotnetHost()
    {
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) return current;
        return "dotnet";
    }
}
