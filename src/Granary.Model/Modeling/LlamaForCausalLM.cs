using Granary.Model.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// The Llama-family decoder (Llama, Mistral, Qwen2) with HF parameter names, so that
/// <c>named_parameters()</c> are exactly the checkpoint's tensor names.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module
{
    readonly EmbeddingLayer _embedTokens;
    readonly ModuleList<LlamaDecoderLayer> _layers;
    readonly RmsNorm _norm;
    readonly LinearLayer? _lmHead; // null when tied to the embeddings
    readonly RotaryEmbedding _rotary;

    static LlamaForCausalLM() => Runtime.TorchRuntime.EnsureInitialized();

    public LlamaForCausalLM(ModelConfig config, ScalarType dtype, Device device) : base(nameof(LlamaForCausalLM))
    {
        Config = config;
        DType = dtype;
        Device = device;
        _embedTokens = new EmbeddingLayer(config.VocabSize, config.HiddenSize, dtype, device);
        _layers = new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.NumLayers).Select(i => new LlamaDecoderLayer(config, i, dtype, device)).ToArray());
        _norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        var body = new ModuleContainer("model"); // groups "model.*" as in HF
        body.register_module("embed_tokens", _embedTokens);
        body.register_module("layers", _layers);
        body.register_module("norm", _norm);
        register_module("model", body);
        if (!config.TieWordEmbeddings)
        {
            _lmHead = new LinearLayer(config.HiddenSize, config.VocabSize, hasBias: false, dtype, device);
            register_module("lm_head", _lmHead);
        }
        _rotary = new RotaryEmbedding(config, device);
    }

    public ModelConfig Config { get; }

    public ScalarType DType { get; }

    public Device Device { get; }

    /// <summary>
    /// Runs all layers over a ragged batch and writes the new tokens' K/V into each segment's cache
    /// (the caller advances the caches afterwards). <paramref name="batchDecodeRows"/> false makes every
    /// segment attend on its own (tests compare the two paths).
    /// tokenIds: [T] int64, positions: [T] int64 -> normalized hidden states [T, D].
    /// </summary>
    public Tensor Forward(Tensor tokenIds, Tensor positions, IReadOnlyList<BatchSegment> segments, bool batchDecodeRows = true)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = _rotary.CosSin(positions, DType);
        var context = new ForwardContext(segments, cos, sin, Config.SlidingWindow, batchDecodeRows);
        var x = _embedTokens.forward(tokenIds);
        foreach (var layer in _layers)
            x = layer.Forward(x, context);
        return _norm.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>hidden: [R, D] -> logits [R, V] in the run dtype.</summary>
    public Tensor Logits(Tensor hidden) =>
        _lmHead is null ? nn.functional.linear(hidden, _embedTokens.Weight) : _lmHead.forward(hidden);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rotary.Dispose();
        base.Dispose(disposing);
    }
}
