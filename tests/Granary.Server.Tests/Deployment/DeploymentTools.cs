using System.Diagnostics;
using System.Text.Json;

namespace Granary.Server.Tests.Deployment;

/// <summary>What one external tool run left behind.</summary>
public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public JsonElement Json()
    {
        using var document = JsonDocument.Parse(Stdout);
        return document.RootElement.Clone();
    }

    public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// The tools that check the chart and manifests without helm or a cluster: <c>tools/helm-render</c> (built here
/// with Debian's Go and sprig packages) and <c>tools/k8s-validate</c> (node, with its npm packages installed by
/// <c>npm ci</c> on first use when .ci/run has not done it). Each is prepared once per test run.
/// </summary>
public static class DeploymentTools
{
    const string GoPackages = "golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev";

    static readonly Lazy<string> HelmRenderBinary = new(BuildHelmRender);
    static readonly Lazy<string> ValidatorScript = new(InstallValidator);

    /// <summary>The repository root (the folder with Cluster.sln), found from the test binary upwards.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ChartDir => Path.Combine(RepoRoot, "helm", "granary");

    public static string K8sDir => Path.Combine(RepoRoot, "k8s");

    /// <summary>The plain manifests; k8s/ and k8s/monitoring are kustomizations over it.</summary>
    public static string K8sBaseDir => Path.Combine(RepoRoot, "k8s", "base");

    public static string Repo(params string[] parts) => Path.Combine([RepoRoot, .. parts]);

    /// <summary><c>helm-render ARGS</c> (the flags of tools/helm-render/main.go, then the chart folder).</summary>
    public static ToolResult HelmRender(params string[] args) => Run(HelmRenderBinary.Value, args, RepoRoot);

    /// <summary><c>node tools/k8s-validate/validate.mjs ARGS</c>; its stdout is one JSON object.</summary>
    public static ToolResult Validate(params string[] args) => Run("node", [ValidatorScript.Value, .. args], RepoRoot);

    static string BuildHelmRender()
    {
        string output = Path.Combine(Path.GetTempPath(), $"granary-helm-render-{Environment.ProcessId}");
        Directory.CreateDirectory(output);
        string binary = Path.Combine(output, "helm-render");
        var result = Run("go", ["build", "-o", binary, "./tools/helm-render"], RepoRoot, new Dictionary<string, string>
        {
            ["GO111MODULE"] = "off",
            ["GOPATH"] = "/usr/share/gocode",
            ["GOCACHE"] = Path.Combine(output, "cache"),
            ["GOFLAGS"] = "",
        }, missing: $"go is not installed (apt-get install -y {GoPackages}; .ci/run does this)");
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"building tools/helm-render failed (apt-get install -y {GoPackages}; .ci/run does this)\n{result}");
        return binary;
    }

    static string InstallValidator()
    {
        string dir = Repo("tools", "k8s-validate");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "kubernetes-models")))
        {
            var install = Run("npm", ["ci", "--no-audit", "--no-fund"], dir, missing: "npm is not installed (apt-get install -y nodejs npm; .ci/run does this)");
            if (install.ExitCode != 0) throw new InvalidOperationException($"npm ci in tools/k8s-validate failed\n{install}");
        }
        return Path.Combine(dir, "validate.mjs");
    }

    static ToolResult Run(string file, IEnumerable<string> args, string workingDirectory,
        IReadOnlyDictionary<string, string>? environment = null, string? missing = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(missing ?? $"{file} is not installed", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within 5 minutes");
            }
            return new ToolResult(process.ExitCode, stdout.Result, stderr.Result);
        }
    }

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Cluster.sln above {AppContext.BaseDirectory}");
    }
}
