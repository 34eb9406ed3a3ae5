using Granary.TestKit;

namespace Granary.Server.Tests.Deployment;

/// <summary>
/// values.yaml against values.schema.json (what `helm install` enforces): the shipped values pass, and a
/// mistyped or impossible value is refused with the offending path named.
/// </summary>
public sealed class ChartValuesTests
{
    static ToolResult ValidateWith(string overrideYaml)
    {
        using var dir = new TempDirectory("granary-values");
        string file = dir.Combine("override.yaml");
        File.WriteAllText(file, overrideYaml);
        return DeploymentTools.Validate("values", Schema, Values, file);
    }

    static string Schema => Path.Combine(DeploymentTools.ChartDir, "values.schema.json");

    static string Values => Path.Combine(DeploymentTools.ChartDir, "values.yaml");

    [Fact]
    public void Shipped_values_satisfy_the_schema()
    {
        var result = DeploymentTools.Validate("values", Schema, Values);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(result.Json().GetProperty("valid").GetBoolean());
    }

    [Fact]
    public void A_production_override_satisfies_the_schema()
    {
        var result = ValidateWith(ProductionValues.Yaml);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Theory]
    [InlineData("server:\n  device: tpu\n", "/server/device")]
    [InlineData("replicaCount: 0\n", "/replicaCount")]
    [InlineData("ports:\n  http: 70000\n", "/ports/http")]
    [InlineData("redis:\n  enabled: false\n", "/redis")]
    [InlineData("redis:\n  enabled: false\n  external: not-an-address\n", "/redis/external")]
    [InlineData("telemetry:\n  otlpEndpoint: collector:4317\n", "/telemetry/otlpEndpoint")]
    [InlineData("replicas: 3\n", "additional properties")]
    public void A_bad_value_is_refused_naming_it(string overrideYaml, string named)
    {
        var result = ValidateWith(overrideYaml);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(result.Json().GetProperty("errors").EnumerateArray(), e => e.GetString()!.Contains(named));
    }
}

/// <summary>Every optional feature of the chart switched on, as a production install might set it.</summary>
public static class ProductionValues
{
    public const string Yaml = """
        replicaCount: 4
        image:
          repository: registry.example.com/granary
          tag: 0.1.0-cuda
        model:
          path: /models/llama-3-8b
          servedName: llama-3-8b
          volume:
            persistentVolumeClaim:
              claimName: granary-models
          plan: pp=2,tp=2
        server:
          device: cuda
          dtype: bf16
          kvCacheTokens: 262144
        redis:
          enabled: false
          external: redis.infra.svc:6379
        resources:
          requests: {cpu: "4", memory: 32Gi}
          limits: {memory: 64Gi, nvidia.com/gpu: 1}
        telemetry:
          otlpEndpoint: http://otel-collector.monitoring:4317
        serviceMonitor:
          enabled: true
          labels: {release: kube-prometheus-stack}
        extraEnv:
          - name: GRANARY__APIKEYS__0__KEY
            valueFrom: {secretKeyRef: {name: granary-api-keys, key: key}}
          - name: GRANARY__APIKEYS__0__TENANT
            value: team-a
        nodeSelector: {nvidia.com/gpu.present: "true"}
        tolerations:
          - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
        """;
}
