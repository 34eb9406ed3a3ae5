namespace Granary.Grains.Sharding;

/// <summary>
/// A shard grain cannot run a step: it was unloaded or re-created without its weights (its deployment moved,
/// or its silo restarted). The router treats it like a lost silo: the request may be retried.
/// </summary>
[GenerateSerializer]
public sealed class ShardUnavailableException : Exception
{
    public ShardUnavailableException(string message) : base(message)
    {
    }
}
