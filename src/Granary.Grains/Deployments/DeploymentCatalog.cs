namespace Granary.Grains.Deployments;

/// <summary>The deployments this cluster serves, as configured on every silo (a silo service, not a grain).</summary>
public sealed class DeploymentCatalog
{
    readonly Dictionary<string, DeploymentOptions> _byName;

    public DeploymentCatalog(IEnumerable<DeploymentOptions> deployments)
    {
        _byName = new Dictionary<string, DeploymentOptions>(StringComparer.Ordinal);
        foreach (var deployment in deployments)
            if (!_byName.TryAdd(deployment.Name, deployment))
                throw new ArgumentException($"two deployments are named \"{deployment.Name}\"");
        All = _byName.Values.ToList();
    }

    public IReadOnlyList<DeploymentOptions> All { get; }

    public DeploymentOptions? Find(string name) => _byName.GetValueOrDefault(name);
}
