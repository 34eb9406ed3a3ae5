using Granary.Model.Runtime;
using Granary.Model.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// Rotary position embedding in the HF "rotate_half" layout (the first and second halves of each head
/// are the two coordinates of a pair), with rope_theta and the linear / Llama-3 frequency scaling.
/// cos/sin are computed per forward from the token positions, in fp32, then cast to the run dtype;
/// no table of max_position_embeddings rows is kept (128k rows would be ~100 MB).
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor _invFreq; // [Dh/2] fp32

    public RotaryEmbedding(ModelConfig config, Device device)
    {
        double[] invFreq = InverseFrequencies(config.HeadDim, config.RopeTheta, config.RopeScaling);
        _invFreq = tensor(invFreq.Select(f => (float)f).ToArray(), device: device);
    }

    /// <summary>Per-dimension inverse frequencies, after scaling. Public for tests.</summary>
    public static double[] InverseFrequencies(int headDim, double theta, RopeScaling? scaling)
    {
        int half = headDim / 2;
        var invFreq = new double[half];
        for (int i = 0; i < half; i++)
            invFreq[i] = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
        if (scaling is null) return invFreq;
        return scaling.Type switch
        {
            "linear" => invFreq.Select(f => f / scaling.Factor).ToArray(),
            "llama3" => invFreq.Select(f => Llama3Scale(f, scaling)).ToArray(),
            _ => throw new NotSupportedException($"rope_scaling type {scaling.Type}"),
        };
    }

    // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band between interpolated.
    static double Llama3Scale(double invFreq, RopeScaling s)
    {
        double lowFreqWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highFreqWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        double wavelen = 2 * Math.PI / invFreq;
        if (wavelen < highFreqWavelen) return invFreq;
        if (wavelen > lowFreqWavelen) return invFreq / s.Factor;
        double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        return (1 - smooth) * invFreq / s.Factor + smooth * invFreq;
    }

    /// <summary>
    /// positions: [T] int64 -> cos and the half-signed sin [-sin, sin] (what <see cref="Apply"/> takes): [T, 1, Dh]
    /// in <paramref name="dtype"/>, broadcast over heads. Folding rotate_half's sign into sin once per forward
    /// saves every layer a negation of q and of k (the products are bit for bit the same: (-a)·s = a·(-s)).
    /// </summary>
    public (Tensor Cos, Tensor SignedSin) CosSin(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var freqs = positions.to(float32).unsqueeze(1) * _invFreq.unsqueeze(0); // [T, Dh/2]
        var angles = cat([freqs, freqs], dim: 1).unsqueeze(1);                 // [T, 1, Dh]
        var cos = angles.cos().to(dtype).MoveToOuterDisposeScope();
        var halfSin = freqs.sin();                                              // [T, Dh/2]
        var signedSin = cat([halfSin.neg(), halfSin], dim: 1).unsqueeze(1).to(dtype).MoveToOuterDisposeScope();
        return (cos, signedSin);
    }

    /// <summary>
    /// x: [T, heads, Dh] -> same shape, rotated by each token's position: x·cos + rotate_half(x)·sin, where
    /// rotate_half(x) = [-x2, x1] is computed as roll(x, Dh/2) = [x2, x1] times the half-signed sin.
    /// Four ops: a decode step is bound by per-op overhead, and this runs twice per layer.
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor signedSin)
    {
        using var scope = NewDisposeScope();
        long half = x.size(-1) / 2;
        return (x * cos).add_(x.roll(half, -1).mul_(signedSin), Scalars.One).MoveToOuterDisposeScope();
    }

    public void Dispose() => _invFreq.Dispose();
}
