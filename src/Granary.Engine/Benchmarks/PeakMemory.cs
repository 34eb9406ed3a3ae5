namespace Granary.Engine.Benchmarks;

/// <summary>
/// The process's peak resident memory (Linux VmHWM), resettable between measurements by writing 5 to
/// /proc/self/clear_refs, so several configurations can be compared in one process. Null where unsupported.
/// </summary>
public static class PeakMemory
{
    /// <summary>Starts a new peak at the current resident size; false when the kernel does not allow it.</summary>
    public static bool TryReset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    /// <summary>Peak resident bytes since the last reset (or process start).</summary>
    public static long? PeakResidentBytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0]) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return null;
    }
}
