using TorchSharp;

namespace Granary.Model.Loading;

/// <summary>Where and in what precision to load a model.</summary>
/// <param name="DType">Run dtype; null keeps the checkpoint's own (<c>torch_dtype</c>), fp32 when it has none.</param>
/// <param name="Device">"cpu", "cuda", "cuda:1", ...</param>
public sealed record ModelLoadOptions(torch.ScalarType? DType = null, string Device = "cpu");

/// <summary>Weights loaded so far, for a progress bar.</summary>
public readonly record struct LoadProgress(int NumTensorsLoaded, int NumTensors, long NumBytesLoaded, long NumBytes);
