using Granary.Model.Configuration;

namespace Granary.Model.Tests.Modeling;

/// <summary>
/// An independent, deliberately naive Llama forward in double-precision scalar loops, written from the
/// HF modeling_llama semantics (rotate_half RoPE, repeat_kv GQA, SwiGLU, RMSNorm, causal softmax). It
/// shares no code with the TorchSharp model, so agreement checks the math itself, not just self-consistency.
/// </summary>
internal sealed class ScalarReferenceLlama(ModelConfig config, IReadOnlyDictionary<string, float[]> weights)
{
    readonly int _d = config.HiddenSize, _h = config.NumHeads, _kvh = config.NumKvHeads, _dh = config.HeadDim;

    public double[][] Forward(int[] tokens, double[] invFreq)
    {
        var x = tokens.Select(t => Row(weights["model.embed_tokens.weight"], t, _d)).ToArray();
        for (int layer = 0; layer < config.NumLayers; layer++)
        {
            string p = $"model.layers.{layer}.";
            var normed = x.Select(r => RmsNorm(r, weights[p + "input_layernorm.weight"])).ToArray();
            var attention = Attention(normed, p + "self_attn.", invFreq);
            x = x.Select((r, i) => Add(r, attention[i])).ToArray();
            var normed2 = x.Select(r => RmsNorm(r, weights[p + "post_attention_layernorm.weight"])).ToArray();
            x = x.Select((r, i) => Add(r, Mlp(normed2[i], p + "mlp."))).ToArray();
        }
        var head = config.TieWordEmbeddings ? weights["model.embed_tokens.weight"] : weights["lm_head.weight"];
        return x.Select(r => Linear(RmsNorm(r, weights["model.norm.weight"]), head, null, config.VocabSize)).ToArray();
    }

    double[][] Attention(double[][] x, string p, double[] invFreq)
    {
        int s = x.Length;
        var q = x.Select(r => Linear(r, weights[p + "q_proj.weight"], Bias(p + "q_proj.bias"), _h * _dh)).ToArray();
        var k = x.Select(r => Linear(r, weights[p + "k_proj.weight"], Bias(p + "k_proj.bias"), _kvh * _dh)).ToArray();
        var v = x.Select(r => Linear(r, weights[p + "v_proj.weight"], Bias(p + "v_proj.bias"), _kvh * _dh)).ToArray();
        for (int t = 0; t < s; t++)
        {
            Rope(q[t], _h, t, invFreq);
            Rope(k[t], _kvh, t, invFreq);
        }
        var output = new double[s][];
        for (int t = 0; t < s; t++)
        {
            output[t] = new double[_h * _dh];
            for (int head = 0; head < _h; head++)
            {
                int kvHead = head / (_h / _kvh);
                // Mistral's sliding window: position t sees t - window + 1 .. t.
                int first = config.SlidingWindow is { } window ? Math.Max(0, t - window + 1) : 0;
                var scores = Enumerable.Repeat(double.NegativeInfinity, t + 1).ToArray();
                for (int u = first; u <= t; u++)
                {
                    double dot = 0;
                    for (int i = 0; i < _dh; i++) dot += q[t][head * _dh + i] * k[u][kvHead * _dh + i];
                    scores[u] = dot / Math.Sqrt(_dh);
                }
                double max = scores.Max();
                var e = scores.Select(z => Math.Exp(z - max)).ToArray();
                double sum = e.Sum();
                for (int u = first; u <= t; u++)
                    for (int i = 0; i < _dh; i++)
                        output[t][head * _dh + i] += e[u] / sum * v[u][kvHead * _dh + i];
            }
        }
        return output.Select(r => Linear(r, weights[p + "o_proj.weight"], Bias(p + "o_proj.bias"), _d)).ToArray();
    }

    void Rope(double[] vector, int heads, int position, double[] invFreq)
    {
        int half = _dh / 2;
        for (int head = 0; head < heads; head++)
            for (int i = 0; i < half; i++)
            {
                double angle = position * (double)(float)invFreq[i];
                double a = vector[head * _dh + i], b = vector[head * _dh + i + half];
                vector[head * _dh + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                vector[head * _dh + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
    }

    double[] Mlp(double[] x, string p)
    {
        int inter = config.IntermediateSize;
        var gate = Linear(x, weights[p + "gate_proj.weight"], null, inter);
        var up = Linear(x, weights[p + "up_proj.weight"], null, inter);
        var hidden = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
        return Linear(hidden, weights[p + "down_proj.weight"], null, _d);
    }

    double[] RmsNorm(double[] x, float[] weight)
    {
        double meanSquare = x.Sum(v => v * v) / x.Length;
        double scale = 1 / Math.Sqrt(meanSquare + config.RmsNormEps);
        return x.Select((v, i) => v * scale * weight[i]).ToArray();
    }

    float[]? Bias(string name) => weights.TryGetValue(name, out var b) ? b : null;

    static double[] Linear(double[] x, float[] weight, float[]? bias, int outFeatures)
    {
        int inFeatures = x.Length;
        var y = new double[outFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            double acc = bias?[o] ?? 0;
            for (int i = 0; i < inFeatures; i++) acc += weight[o * inFeatures + i] * x[i];
            y[o] = acc;
        }
        return y;
    }

    static double[] Row(float[] matrix, int row, int width) =>
        Enumerable.Range(0, width).Select(i => (double)matrix[row * width + i]).ToArray();

    static double[] Add(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();
}
