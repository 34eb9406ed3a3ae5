using System.Diagnostics;
using Granary.Model.Runtime;

namespace Granary.Engine.Speculation;

/// <summary>Times one engine step for the adaptive k: the thread's CPU time, or wall time.</summary>
public readonly struct StepClock
{
    readonly long _wallStart;
    readonly double? _cpuStart;

    StepClock(long wallStart, double? cpuStart)
    {
        _wallStart = wallStart;
        _cpuStart = cpuStart;
    }

    public static StepClock Start(bool useThreadCpuTime) =>
        new(Stopwatch.GetTimestamp(), useThreadCpuTime ? ThreadCpuClock.Seconds() : null);

    public double ElapsedSeconds =>
        _cpuStart is { } start && ThreadCpuClock.Seconds() is { } now ? now - start : Stopwatch.GetElapsedTime(_wallStart).TotalSeconds;
}
