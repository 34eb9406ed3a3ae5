using System.Text.Json;
using System.Text.Json.Serialization;
using Granary.Engine.Benchmarks;
using Granary.Model.Runtime;

namespace Granary.Server.Cli;

/// <summary>What `granary bench decode` reports.</summary>
internal sealed record DecodeBenchReport(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("parameters")] long NumParameters,
    [property: JsonPropertyName("weight_bytes")] long NumWeightBytes,
    [property: JsonPropertyName("dtype")] string DType,
    [property: JsonPropertyName("threads")] int NumThreads,
    [property: JsonPropertyName("blas")] string Blas,
    [property: JsonPropertyName("memory_bandwidth_gb_per_s")] double MemoryBandwidthGBps,
    [property: JsonPropertyName("results")] IReadOnlyList<DecodeBenchRow> Results,
    [property: JsonPropertyName("roofline_ratio")] double RooflineRatio,
    [property: JsonPropertyName("batch_scaling")] double? BatchScaling)
{
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static DecodeBenchReport Measure(CausalLm model, string name, IReadOnlyList<int> batchSizes, int numSteps)
    {
        double bandwidth = MemoryBandwidthProbe.MeasureBytesPerSecond();
        var rows = batchSizes.Select(b => DecodeBenchmark.Measure(model, b, numSteps: numSteps)).ToList();
        long weightBytes = model.NumWeightBytes;
        // Roofline at batch 1: every step must stream every weight once, so bytes/s achieved vs. the copy bandwidth.
        var smallest = rows.MinBy(r => r.BatchSize)!;
        var largest = rows.MaxBy(r => r.BatchSize)!;
        double roofline = weightBytes / smallest.SecondsPerStep / bandwidth;
        return new DecodeBenchReport(
            name, model.Network.parameters().Sum(p => p.NumberOfElements), weightBytes, model.DType.ToString(),
            TorchSharp.torch.get_num_threads(), Granary.Model.Runtime.TorchRuntime.MklStatus, Math.Round(bandwidth / 1e9, 2),
            rows.Select(r => new DecodeBenchRow(r.BatchSize, Math.Round(r.TokensPerSecond, 2), Math.Round(r.SecondsPerStep * 1000, 2))).ToList(),
            Math.Round(roofline, 3),
            rows.Count > 1 ? Math.Round(largest.TokensPerSecond / smallest.TokensPerSecond, 2) : null);
    }

    public void WriteTable(TextWriter output)
    {
        output.WriteLine($"model {Model}: {NumParameters / 1e6:F1}M parameters, {NumWeightBytes / 1e6:F0} MB {DType}, {NumThreads} threads");
        output.WriteLine($"BLAS: {Blas}");
        output.WriteLine($"memory bandwidth (copy): {MemoryBandwidthGBps:F2} GB/s");
        output.WriteLine("batch  tokens/s  ms/step");
        foreach (var row in Results) output.WriteLine($"{row.BatchSize,5}  {row.TokensPerSecond,8:F1}  {row.StepMs,7:F1}");
        output.WriteLine($"roofline ratio at batch {Results.Min(r => r.BatchSize)}: {RooflineRatio:F3}");
        if (BatchScaling is { } scaling) output.WriteLine($"throughput batch {Results.Max(r => r.BatchSize)} / batch {Results.Min(r => r.BatchSize)}: {scaling:F2}x");
    }
}

internal sealed record DecodeBenchRow(
    [property: JsonPropertyName("batch_size")] int BatchSize,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
    [property: JsonPropertyName("step_ms")] double StepMs);
