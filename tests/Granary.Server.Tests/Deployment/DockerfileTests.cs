using System.Text.RegularExpressions;

namespace Granary.Server.Tests.Deployment;

/// <summary>
/// No Docker daemon is reachable here, so the Dockerfile is checked for what would break an image or disagree with
/// the chart: every file it copies exists and is in the build context, the CPU/CUDA switch reaches the build
/// property, it runs as the non-root user the chart expects, and it starts `granary serve` on the chart's ports.
/// </summary>
public sealed partial class DockerfileTests
{
    static readonly string[] Lines = File.ReadAllLines(DeploymentTools.Repo("Dockerfile"));

    static string ValuesYaml => File.ReadAllText(DeploymentTools.Repo("helm", "granary", "values.yaml"));

    [Fact]
    public void Every_copied_path_exists_and_is_not_excluded_from_the_build_context()
    {
        string[] ignored = File.ReadAllLines(DeploymentTools.Repo(".dockerignore"))
            .Where(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith("**")).Select(l => l.TrimEnd('/')).ToArray();
        var sources = Lines.Where(l => l.StartsWith("COPY ") && !l.Contains("--from=")).SelectMany(l => l.Split(' ')[1..^1]).ToList();
        Assert.NotEmpty(sources);
        foreach (string source in sources)
        {
            string path = DeploymentTools.Repo(source.TrimEnd('/'));
            Assert.True(File.Exists(path) || Directory.Exists(path), $"COPY {source}: no such path in the repository");
            Assert.DoesNotContain(ignored, i => source.TrimEnd('/') == i || source.StartsWith(i + "/"));
        }
    }

    [Fact]
    public void Cpu_is_the_default_and_the_cuda_switch_is_the_build_property()
    {
        Assert.Contains("ARG TORCH_DEVICE=cpu", Lines);
        var publish = Assert.Single(Lines, l => l.StartsWith("RUN dotnet publish"));
        Assert.Contains("-p:TorchDevice=${TORCH_DEVICE}", publish);
        string props = File.ReadAllText(DeploymentTools.Repo("Directory.Build.props"));
        Assert.Contains("'$(TorchDevice)' == 'cuda'", props);
    }

    [Fact]
    public void Runs_granary_serve_as_the_non_root_user_the_chart_expects()
    {
        Assert.Equal("ENTRYPOINT [\"/app/granary\", \"serve\"]", Lines.Last(l => l.StartsWith("ENTRYPOINT")));
        var user = UserLine().Match(Lines.Last(l => l.StartsWith("USER "))).Groups;
        Assert.NotEqual("0", user["uid"].Value);
        Assert.Matches($@"runAsUser: {user["uid"].Value}\b", ValuesYaml);
        Assert.Matches($@"runAsGroup: {user["gid"].Value}\b", ValuesYaml);
        string project = File.ReadAllText(DeploymentTools.Repo("src", "Granary.Server", "Granary.Server.csproj"));
        Assert.Contains("<AssemblyName>granary</AssemblyName>", project);
    }

    [Fact]
    public void Exposes_the_ports_the_chart_uses()
    {
        var exposed = Lines.Single(l => l.StartsWith("EXPOSE ")).Split(' ')[1..].Select(int.Parse).ToList();
        foreach (string name in new[] { "http", "grpc", "silo", "gateway" })
        {
            int port = int.Parse(Regex.Match(ValuesYaml, $@"^  {name}: (\d+)", RegexOptions.Multiline).Groups[1].Value);
            Assert.Contains(port, exposed);
        }
    }

    [GeneratedRegex(@"^USER (?<uid>\d+):(?<gid>\d+)$")]
    private static partial Regex UserLine();
}
