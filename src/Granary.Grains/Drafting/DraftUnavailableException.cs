namespace Granary.Grains.Drafting;

/// <summary>
/// A draft grain cannot propose: it was unloaded or re-created without its weights (its deployment moved, or
/// its silo restarted). The router treats it like a lost shard: the request may be retried.
/// </summary>
[GenerateSerializer]
public sealed class DraftUnavailableException : Exception
{
    public DraftUnavailableException(string message) : base(message)
    {
    }
}
