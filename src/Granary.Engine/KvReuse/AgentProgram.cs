namespace Granary.Engine.KvReuse;

/// <summary>
/// What the engine remembers of one agent program (a tenant's named conversation) between its turns: when it
/// first arrived (program-level FCFS orders by it), how many turns it has run, and whether it is out waiting
/// on a tool.
/// </summary>
public sealed class AgentProgram(string? tenant, string name, long arrivalOrder)
{
    public string? Tenant { get; } = tenant;

    public string Name { get; } = name;

    /// <summary>The submission order of its first request: its requests queue as if they came then.</summary>
    public long ArrivalOrder { get; } = arrivalOrder;

    public int NumTurns { get; internal set; }

    public DateTimeOffset? LastTurnEndedAt { get; internal set; }

    /// <summary>The tool its last turn is waiting on (null when it is not waiting).</summary>
    public string? AwaitingTool { get; internal set; }
}
