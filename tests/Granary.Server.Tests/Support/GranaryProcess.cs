using System.Diagnostics;
using Granary.TestKit;

namespace Granary.Server.Tests.Support;

/// <summary>Runs the real `granary` executable (`dotnet granary.dll ...`) with a timeout, so a hang fails the test.</summary>
public static class GranaryProcess
{
    /// <summary>The Server project's build output, which the build copies next to the test assembly.</summary>
    public static string DllPath => GranaryExecutable.DllPath;

    public static CliResult Run(TimeSpan timeout, params string[] args) => Run(timeout, new Dictionary<string, string>(), args);

    /// <summary>Runs with extra environment variables (e.g. GRANARY__* settings).</summary>
    public static CliResult Run(TimeSpan timeout, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(GranaryExecutable.DotnetHost())
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
        foreach (var (name, value) in environment) start.Environment[name] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(5000);
            Assert.Fail($"granary {string.Join(' ', args)} did not exit within {timeout.TotalSeconds:F0} s\nstdout: {Drain(stdout)}\nstderr: {Drain(stderr)}");
        }
        process.WaitForExit(); // flushes the redirected streams
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    static string Drain(Task<string> output) => output.Wait(TimeSpan.FromSeconds(2)) ? output.Result : "(not available)";
}
