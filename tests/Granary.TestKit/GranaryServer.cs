using System.Diagnostics;
using System.Net;

namespace Granary.TestKit;

/// <summary>
/// A running `granary serve` on free loopback ports (HTTP, gRPC, silo, gateway), ready to serve: the
/// constructor returns once GET /health/ready answers 200. Dispose kills the process.
/// </summary>
public sealed class GranaryServer : IDisposable
{
    static readonly TimeSpan ReadyTimeout = TimeSpan.FromMinutes(3);

    readonly Process _process;
    bool _isDisposed;

    GranaryServer(Process process, ProcessOutput output, Uri httpAddress, Uri grpcAddress, int siloPort)
    {
        _process = process;
        SiloPort = siloPort;
        Output = output;
        HttpAddress = httpAddress;
        GrpcAddress = grpcAddress;
        // A test run that ends without disposing its fixtures (aborted, crashed test) still takes the server down.
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    public Uri HttpAddress { get; }

    public Uri GrpcAddress { get; }

    /// <summary>Its silo-to-silo port: how /v1/cluster names its silo (127.0.0.1:PORT:...).</summary>
    public int SiloPort { get; }

    /// <summary>What the server has logged so far, for failure messages.</summary>
    public ProcessOutput Output { get; }

    public bool HasExited => _process.HasExited;

    /// <param name="waitUntilReady">
    /// Return once GET /health/ready answers 200 (the model is loaded); false returns once the process is up
    /// (GET /health/live), for a silo whose deployment waits for others to join.
    /// </param>
    public static async Task<GranaryServer> StartAsync(string modelDir, string servedModelName,
        IReadOnlyDictionary<string, string>? environment = null, IEnumerable<string>? extraArgs = null, bool waitUntilReady = true)
    {
        int[] ports = FreePorts.Next(4);
        var httpAddress = new Uri($"http://127.0.0.1:{ports[0]}");
        var grpcAddress = new Uri($"http://127.0.0.1:{ports[1]}");
        string[] args =
        [
            "serve", "--model", modelDir, "--served-model-name", servedModelName,
            "--urls", httpAddress.ToString().TrimEnd('/'), "--grpc-urls", grpcAddress.ToString().TrimEnd('/'),
            "--silo-port", ports[2].ToString(), "--gateway-port", ports[3].ToString(),
            .. extraArgs ?? [],
        ];
        var (process, output) = GranaryExecutable.Start(args, environment);
        var server = new GranaryServer(process, output, httpAddress, grpcAddress, ports[2]);
        try
        {
            await server.WaitForAsync(waitUntilReady ? "/health/ready" : "/health/live");
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_isDisposed) return; // a test may kill a silo early; its fixture disposes it again
        _isDisposed = true;
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        GranaryExecutable.Kill(_process);
        _process.Dispose();
    }

    void KillOnExit(object? sender, EventArgs e) => GranaryExecutable.Kill(_process);

    /// <summary>Asks the process to stop as an orchestrator does (SIGTERM), without waiting.</summary>
    public void Terminate()
    {
        if (kill(_process.Id, Sigterm) != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed");
    }

    /// <summary>Waits (bounded) for the process to exit by itself; its exit code, or null if it is still running.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    const int Sigterm = 15;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    /// <summary>Waits until GET /health/ready answers 200.</summary>
    public Task WaitUntilReadyAsync() => WaitForAsync("/health/ready");

    async Task WaitForAsync(string path)
    {
        using var http = new HttpClient { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(5) };
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < ReadyTimeout)
        {
            if (_process.HasExited) throw new InvalidOperationException($"granary serve exited with {_process.ExitCode} before it was ready\n{Output}");
            try
            {
                using var response = await http.GetAsync(path);
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"granary serve did not answer {path} within {ReadyTimeout.TotalSeconds:F0} s\n{Output}");
    }
}
