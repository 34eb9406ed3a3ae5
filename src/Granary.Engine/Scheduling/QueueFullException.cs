namespace Granary.Engine.Scheduling;

/// <summary>The waiting queue is at its configured maximum; the caller should retry later (HTTP 429).</summary>
public sealed class QueueFullException(int maxNumWaiting)
    : Exception($"the request queue is full ({maxNumWaiting} waiting); retry later")
{
    public int MaxNumWaiting { get; } = maxNumWaiting;
}
