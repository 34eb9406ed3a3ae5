using System.Runtime.InteropServices;

namespace Granary.Model.Runtime;

/// <summary>
/// CPU time of the calling thread (Linux CLOCK_THREAD_CPUTIME_ID). With one intra-op thread libtorch runs
/// every op on the caller, so this is the compute a decode loop used, without the time the scheduler gave
/// other processes: a comparison that survives a shared, loaded machine. Null where unavailable.
/// </summary>
public static partial class ThreadCpuClock
{
    const int ClockThreadCpuTimeId = 3;

    public static double? Seconds()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return clock_gettime(ClockThreadCpuTimeId, out var time) == 0 ? time.Seconds + time.Nanoseconds / 1e9 : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc.so.6")]
    private static partial int clock_gettime(int clockId, out TimeSpec time);
}
