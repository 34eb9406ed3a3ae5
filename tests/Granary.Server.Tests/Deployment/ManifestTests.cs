using System.Text.Json;
using Granary.TestKit;

namespace Granary.Server.Tests.Deployment;

/// <summary>
/// The chart and k8s/ against the Kubernetes OpenAPI schemas, and against each other: k8s/ is exactly the chart
/// rendered with its default values (tools/k8s-from-chart.sh), so both declare the same kinds, ports and probes.
/// </summary>
public sealed class ManifestTests
{
    [Fact]
    public void Every_manifest_in_k8s_is_valid_against_the_kubernetes_schemas()
    {
        var result = DeploymentTools.Validate("manifests", DeploymentTools.K8sDir, Path.Combine(DeploymentTools.K8sDir, "monitoring", "servicemonitor.yaml"));
        Assert.True(result.ExitCode == 0, result.ToString());
        var kinds = Objects(result).Select(o => o.Kind).Order().ToList();
        Assert.Equal(["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service", "Service", "ServiceMonitor", "StatefulSet"], kinds);
    }

    [Fact]
    public void The_monitoring_overlay_is_the_base_plus_a_service_monitor()
    {
        var overlay = Objects(Ok(DeploymentTools.Validate("manifests", Path.Combine(DeploymentTools.K8sDir, "monitoring"))));
        var baseObjects = Objects(Ok(DeploymentTools.Validate("manifests", DeploymentTools.K8sDir)));
        Assert.Equal(baseObjects.Count + 1, overlay.Count);
        Assert.Single(overlay, o => o.Kind == "ServiceMonitor");
    }

    [Fact]
    public void An_overlay_inside_its_base_folder_is_refused_as_kustomize_would()
    {
        using var dir = new TempDirectory("granary-kustomize");
        Directory.CreateDirectory(dir.Combine("overlay"));
        File.WriteAllText(dir.Combine("kustomization.yaml"), "resources:\n  - overlay\n");
        File.WriteAllText(dir.Combine("overlay", "kustomization.yaml"), "resources:\n  - ../\n");
        var result = DeploymentTools.Validate("manifests", dir.Path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("kustomize refuses it", result.Stdout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_rendered_chart_is_valid_against_the_kubernetes_schemas(bool production)
    {
        using var dir = new TempDirectory("granary-chart");
        var rendered = Render(dir, production ? ProductionValues.Yaml : null);
        var result = DeploymentTools.Validate("manifests", rendered);
        Assert.True(result.ExitCode == 0, result.ToString());
        var kinds = Objects(result).Select(o => o.Kind).ToHashSet();
        Assert.Contains("StatefulSet", kinds);
        Assert.Equal(production, kinds.Contains("ServiceMonitor"));
        Assert.Equal(!production, kinds.Contains("Deployment")); // the built-in Redis, replaced by an external one
    }

    [Fact]
    public void K8s_base_is_exactly_the_chart_rendered_with_its_default_values()
    {
        using var dir = new TempDirectory("granary-k8s");
        Ok(DeploymentTools.HelmRender("-managed-by", "kustomize", "-out", dir.Path, DeploymentTools.ChartDir));
        var rendered = Directory.GetFiles(dir.Path).Select(f => Path.GetFileName(f)).Order().ToList();
        var listed = KustomizationResources(DeploymentTools.K8sBaseDir);
        Assert.Equal(rendered, listed.Order());
        foreach (string file in rendered)
            Assert.True(File.ReadAllText(dir.Combine(file)) == File.ReadAllText(Path.Combine(DeploymentTools.K8sBaseDir, file)),
                $"k8s/base/{file} differs from the chart's rendering: run tools/k8s-from-chart.sh");
    }

    [Fact]
    public void Chart_and_k8s_declare_the_same_kinds_ports_and_probes()
    {
        using var dir = new TempDirectory("granary-chart");
        var chart = Objects(Ok(DeploymentTools.Validate("manifests", Render(dir, "serviceMonitor:\n  enabled: true\n"))));
        var k8s = Objects(Ok(DeploymentTools.Validate("manifests", Path.Combine(DeploymentTools.K8sDir, "monitoring"))));

        Assert.Equal(chart.Select(o => o.Key).Order(), k8s.Select(o => o.Key).Order());
        var silo = chart.Single(o => o.Kind == "StatefulSet");
        Assert.Equal(["http:8000", "grpc:8001", "silo:11111", "gateway:30000"], silo.Ports);
        Assert.Equal(["livenessProbe:/health/live:http", "readinessProbe:/health/ready:http"], silo.Probes);
    }

    [Fact]
    public void Disabling_the_built_in_redis_without_an_address_fails_the_render_with_one_message()
    {
        using var dir = new TempDirectory("granary-chart");
        string values = dir.Combine("values.yaml");
        File.WriteAllText(values, "redis:\n  enabled: false\n");
        var result = DeploymentTools.HelmRender("-f", values, DeploymentTools.ChartDir);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("redis.external (HOST:PORT) is required", result.Stderr);
    }

    [Fact]
    public void Notes_render_with_the_commands_to_reach_the_api()
    {
        var notes = Ok(DeploymentTools.HelmRender("-notes", DeploymentTools.ChartDir)).Stdout;
        Assert.Contains("port-forward svc/granary 8000:8000", notes);
        Assert.Contains("/v1/models", notes);
    }

    /// <summary>The chart rendered like `helm template granary` (with extra values) into one YAML stream file.</summary>
    static string Render(TempDirectory dir, string? overrideYaml)
    {
        var args = new List<string>();
        if (overrideYaml is not null)
        {
            File.WriteAllText(dir.Combine("override.yaml"), overrideYaml);
            args.AddRange(["-f", dir.Combine("override.yaml")]);
        }
        var result = Ok(DeploymentTools.HelmRender([.. args, DeploymentTools.ChartDir]));
        string file = dir.Combine("rendered.yaml");
        File.WriteAllText(file, result.Stdout);
        return file;
    }

    static ToolResult Ok(ToolResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    static List<string> KustomizationResources(string dir) =>
        File.ReadLines(Path.Combine(dir, "kustomization.yaml")).Select(l => l.Trim())
            .Where(l => l.StartsWith("- ", StringComparison.Ordinal)).Select(l => l[2..].Trim()).ToList();

    sealed record ObjectSummary(string Kind, string Name, List<string> Ports, List<string> Probes)
    {
        /// <summary>Everything the chart and k8s/ must agree on, as one comparable string.</summary>
        public string Key => $"{Kind} {Name} ports[{string.Join(',', Ports)}] probes[{string.Join(',', Probes)}]";
    }

    static List<ObjectSummary> Objects(ToolResult result) => result.Json().GetProperty("objects").EnumerateArray().Select(o => new ObjectSummary(
        o.GetProperty("kind").GetString()!,
        o.GetProperty("name").GetString()!,
        o.GetProperty("ports").EnumerateArray().Select(p => $"{p.GetProperty("name").GetString()}:{p.GetProperty("port")}").ToList(),
        o.GetProperty("probes").EnumerateArray().Select(p => $"{p.GetProperty("probe").GetString()}:{Text(p.GetProperty("path"))}:{Text(p.GetProperty("port"))}").ToList())).ToList();

    static string Text(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.ToString();
}
