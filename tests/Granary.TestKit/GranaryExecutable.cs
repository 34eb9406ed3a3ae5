using System.Diagnostics;
using System.Text.Json;

namespace Granary.TestKit;

/// <summary>
/// Starts the real `granary` executable (`dotnet granary.dll ...`, the Server's build output, which test
/// projects referencing Granary.Server get copied next to them): long-running (`serve`) or to its exit.
/// </summary>
public static class GranaryExecutable
{
    /// <summary>A process with its stdout and stderr drained as they come (a full pipe would stall it).</summary>
    public static (Process Process, ProcessOutput Output) Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.ArgumentList.Add(DllPath);
        foreach (string arg in args) start.ArgumentList.Add(arg);
        start.Environment.Remove("GRANARY_DEBUG");
        // No diagnostics IPC: a killed server would leave its pipes behind in the temp folder.
        start.Environment["DOTNET_EnableDiagnostics"] = "0";
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("GRANARY__", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var output = new ProcessOutput();
        process.OutputDataReceived += (_, e) => output.Add(e.Data, isStdout: true);
        process.ErrorDataReceived += (_, e) => output.Add(e.Data, isStdout: false);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return (process, output);
    }

    /// <summary>Runs a command to its exit and parses stdout as one JSON object (`--json`); fails on timeout or a non-zero exit.</summary>
    public static JsonElement RunJson(TimeSpan timeout, params string[] args)
    {
        var (process, output) = Start(args);
        using (process)
        {
            if (!process.WaitForExit(timeout))
            {
                Kill(process);
                throw new TimeoutException($"granary {string.Join(' ', args)} did not exit within {timeout.TotalSeconds:F0} s\n{output}");
            }
            process.WaitForExit(); // flushes the redirected streams
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"granary {string.Join(' ', args)} exited with {process.ExitCode}\n{output}");
            string json = string.Join('\n', output.StdoutLines);
            using var document = JsonDocument.Parse(json);
            return document.RootElement.Clone();
        }
    }

    /// <summary>Kills the process and its children, and waits (bounded) until it is gone.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
        process.WaitForExit(10_000);
    }

    public static string DllPath
    {
        get
        {
            string path = Path.Combine(AppContext.BaseDirectory, "granary.dll");
            if (!File.Exists(path))
                throw new FileNotFoundException($"granary.dll not found next to the test assembly in {AppContext.BaseDirectory} (does the test project reference Granary.Server?)");
            return path;
        }
    }

    /// <summary>The dotnet host running these tests, else `dotnet` on the PATH.</summary>
    public static string DotnetHost()
    {
        string? root = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(root) && File.Exists(root)) return root;
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) return current;
        return "dotnet";
    }
}

/// <summary>Lines a process wrote: stdout and stderr interleaved as they arrived, and stdout alone.</summary>
public sealed class ProcessOutput
{
    readonly List<string> _lines = [];
    readonly List<string> _stdoutLines = [];

    public IReadOnlyList<string> Lines
    {
        get { lock (_lines) return _lines.ToList(); }
    }

    public IReadOnlyList<string> StdoutLines
    {
        get { lock (_lines) return _stdoutLines.ToList(); }
    }

    public void Add(string? line, bool isStdout)
    {
        if (line is null) return;
        lock (_lines)
        {
            _lines.Add(line);
            if (isStdout) _stdoutLines.Add(line);
        }
    }

    /// <summary>The last lines, for a failure message.</summary>
    public override string ToString() => string.Join('\n', Lines.TakeLast(200));
}
