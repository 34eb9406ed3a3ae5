namespace Granary.Grains.Sharding;

/// <summary>
/// Best-effort grain calls whose failure changes nothing: unloading a shard or draft that may be gone already
/// (its silo left, or it unloaded itself). A call that throws, before or after it returns its task, is ignored,
/// so the returned task never faults and can be left unawaited.
/// </summary>
internal static class QuietCalls
{
    public static async Task RunAsync(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception)
        {
            // Gone with its silo already, or unloaded: nothing left to free.
        }
    }
}
