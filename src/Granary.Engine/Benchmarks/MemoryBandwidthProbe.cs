using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Benchmarks;

/// <summary>
/// Measures the machine's sustainable memory bandwidth with a STREAM-style copy through libtorch (so it uses
/// the same threads as the model's matmuls) over buffers far larger than any cache. Bytes counted as in
/// STREAM's Copy: one read plus one write per element.
/// </summary>
public static class MemoryBandwidthProbe
{
    public static double MeasureBytesPerSecond(long bufferBytes = 512L << 20, int repetitions = 8)
    {
        long numFloats = bufferBytes / sizeof(float);
        using var source = ones(numFloats, float32);
        using var destination = empty(numFloats, float32);
        destination.copy_(source); // touch every page before timing
        double best = double.MaxValue;
        for (int i = 0; i < repetitions; i++)
        {
            var watch = Stopwatch.StartNew();
            destination.copy_(source);
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return 2.0 * numFloats * sizeof(float) / best;
    }
}
