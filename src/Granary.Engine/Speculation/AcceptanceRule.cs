using Granary.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Speculation;

/// <summary>
/// Speculative rejection sampling (Leviathan et al.; Chen et al.), one position at a time: a draft token x
/// drawn from q is kept with probability min(1, p(x) / q(x)); otherwise the position is resampled from
/// normalize(max(0, p − q)). Either way the token is distributed exactly as p, which is what makes
/// speculation lossless. With one-hot p and q (greedy) this is "keep x iff it is the target's argmax,
/// else take the argmax".
/// </summary>
public static class AcceptanceRule
{
    /// <summary>
    /// Decides one position. p, q: [V] fp32 probabilities on CPU (q is the distribution
    /// <paramref name="draftToken"/> was drawn from); <paramref name="uniform"/> in [0, 1).
    /// Returns whether the draft token is accepted; when not, <paramref name="residual"/> is the distribution
    /// to resample from (unnormalized, non-negative, never all zero).
    /// </summary>
    public static bool Accepts(Tensor p, Tensor q, int draftToken, double uniform, out Tensor? residual)
    {
        double pX = p[draftToken].item<float>();
        double qX = q[draftToken].item<float>();
        // NOTE: qX > 0 always holds for a token actually drawn from q; the guard only keeps a 0/0 out.
        if (qX > 0 && uniform < Math.Min(1.0, pX / qX))
        {
            residual = null;
            return true;
        }
        residual = ResidualDistribution(p, q);
        return false;
    }

    /// <summary>max(0, p − q), or p itself when that is all zero (p == q up to rounding: a rejection was then
    /// a zero-probability event, and p is the right distribution to fall back on).</summary>
    public static Tensor ResidualDistribution(Tensor p, Tensor q)
    {
        using var scope = NewDisposeScope();
        var residual = (p - q).clamp_min_(Scalars.Zero);
        if (residual.sum().item<float>() <= 0) return p.clone().MoveToOuterDisposeScope();
        return residual.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Greedy verification: how many leading draft tokens equal the target's argmax at their position.
    /// <paramref name="targetArgmax"/> has k + 1 entries (one per verified position); the token that follows
    /// the accepted ones is targetArgmax[returned count].
    /// </summary>
    public static int NumGreedyAccepted(IReadOnlyList<int> draftTokens, IReadOnlyList<long> targetArgmax, int targetOffset = 0)
    {
        int n = 0;
        while (n < draftTokens.Count && draftTokens[n] == targetArgmax[targetOffset + n]) n++;
        return n;
    }
}
