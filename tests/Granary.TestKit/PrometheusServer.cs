using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Granary.TestKit;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c> package) on a free loopback port, its TSDB in a temp folder,
/// scraping the given targets every second. Fails with a clear message when it is not installed (.ci/run
/// installs it). Dispose stops it and deletes its data.
/// </summary>
public sealed class PrometheusServer : IDisposable
{
    static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    readonly TempDirectory _directory = new("granary-prometheus");
    readonly ConcurrentQueue<string> _log = new();
    readonly Process _process;
    readonly HttpClient _http;

    public PrometheusServer(string job, IEnumerable<Uri> targets)
    {
        int port = FreePorts.Next();
        Address = new Uri($"http://127.0.0.1:{port}");
        _http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(10) };
        string config = Path.Combine(_directory.Path, "prometheus.yml");
        string targetList = string.Join(", ", targets.Select(t => $"'{t.Authority}'"));
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: '{job}'
                metrics_path: /metrics
                static_configs:
                  - targets: [{targetList}]
            """);
        var start = new ProcessStartInfo(Executable())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
                 {
                     $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_directory.Path, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
            start.ArgumentList.Add(arg);
        _process = Process.Start(start) ?? throw new InvalidOperationException("prometheus did not start");
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitUntilReady();
    }

    public Uri Address { get; }

    /// <summary>What Prometheus logged, for failure messages.</summary>
    public string Log => string.Join('\n', _log);

    /// <summary>
    /// An instant query through the HTTP API (<c>/api/v1/query</c>): each series' labels and value.
    /// Throws when Prometheus answers with an error (a bad query).
    /// </summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string promQl)
    {
        string json = await _http.GetStringAsync($"/api/v1/query?query={Uri.EscapeDataString(promQl)}");
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.GetProperty("status").GetString() != "success") throw new InvalidOperationException($"query {promQl} failed: {json}");
        var data = root.GetProperty("data");
        if (data.GetProperty("resultType").GetString() != "vector") throw new InvalidOperationException($"query {promQl} is not a vector: {json}");
        return data.GetProperty("result").EnumerateArray().Select(series => (
            (IReadOnlyDictionary<string, string>)series.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
            double.Parse(series.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture))).ToList();
    }

    /// <summary>Polls <paramref name="promQl"/> until some series satisfies <paramref name="accept"/>; returns its value.</summary>
    public async Task<double> WaitForAsync(string promQl, Func<double, bool> accept, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)> last = [];
        while (watch.Elapsed < timeout)
        {
            last = await QueryAsync(promQl);
            foreach (var (_, value) in last)
                if (accept(value)) return value;
            await Task.Delay(250);
        }
        throw new TimeoutException($"prometheus: {promQl} gave [{string.Join(", ", last.Select(s => s.Value))}] after {timeout.TotalSeconds:F0} s\n{Log}");
    }

    static string Executable()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin"))
        {
            string candidate = Path.Combine(dir, "prometheus");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("prometheus is not installed (apt-get install -y prometheus; .ci/run does this)");
    }

    void WaitUntilReady()
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < ReadyTimeout)
        {
            if (_process.HasExited) throw new InvalidOperationException($"prometheus exited with {_process.ExitCode}\n{Log}");
            try
            {
                using var response = _http.GetAsync("/-/ready").GetAwaiter().GetResult();
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }
            Thread.Sleep(200);
        }
        Dispose();
        throw new TimeoutException($"prometheus was not ready within {ReadyTimeout.TotalSeconds:F0} s\n{Log}");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _http.Dispose();
        _directory.Dispose();
    }
}
