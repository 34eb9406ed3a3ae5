using Granary.Model.Configuration;
using Granary.Model.Sharding;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// The Llama-family decoder (Llama, Mistral, Qwen2) with HF parameter names, so that
/// <c>named_parameters()</c> are exactly the checkpoint's tensor names.
/// <para>
/// A shard (<see cref="ShardSpec"/>) builds only its part: layers [LayerStart, LayerEnd) keep their
/// checkpoint names (<c>model.layers.{i}</c>), the embedding exists on the first stage, the final norm and
/// LM head on the last (the tied embedding there too), and tensor-parallel layers hold their rank's slices.
/// Under vocabulary parallelism a shard holds instead its vocabulary range's rows of the embedding and LM
/// head (<see cref="EmbedPart"/>, <see cref="Logits"/>). The same code runs every shard; nothing below
/// branches on the rank.
/// </para>
/// </summary>
public sealed class LlamaForCausalLM : nn.Module
{
    readonly EmbeddingLayer? _embedTokens; // first stage, or the last one when tied to the LM head; or a vocabulary part
    readonly List<LlamaDecoderLayer> _layers;
    readonly RmsNorm? _norm;               // last stage
    readonly LinearLayer? _lmHead;         // last stage, untied; or a vocabulary part's rows
    readonly RotaryEmbedding _rotary;

    static LlamaForCausalLM() => Runtime.TorchRuntime.EnsureInitialized();

    public LlamaForCausalLM(ModelConfig config, ScalarType dtype, Device device) : this(config, dtype, device, ShardSpec.Whole(config), SingleRankGroup.Instance)
    {
    }

    public LlamaForCausalLM(ModelConfig config, ScalarType dtype, Device device, ShardSpec shard, ITensorParallelGroup group) : base(nameof(LlamaForCausalLM))
    {
        if (group.Size != shard.TpSize || group.Rank != shard.TpRank)
            throw new ArgumentException($"group rank {group.Rank}/{group.Size} does not match shard {shard}", nameof(group));
        Config = config;
        DType = dtype;
        Device = device;
        Shard = shard;
        var split = TensorParallelLayout.For(config, shard.TpRank, shard.TpSize);
        NumKvHeads = split.NumKvHeads;
        var body = new ModuleContainer("model"); // groups "model.*" as in HF
        if (shard.Vocab is { } part)
        {
            // Vocabulary parallel: this shard's rows of the embedding, and of the LM head (the same rows when tied).
            _embedTokens = EmbeddingLayer.VocabPart(config.VocabSize, config.HiddenSize, part, dtype, device, config.TieWordEmbeddings);
            body.register_module("embed_tokens", _embedTokens);
        }
        else if (shard.HasEmbedding || (shard.HasLmHead && config.TieWordEmbeddings))
        {
            _embedTokens = new EmbeddingLayer(config.VocabSize, config.HiddenSize, dtype, device, tiedHead: config.TieWordEmbeddings && shard.HasLmHead);
            body.register_module("embed_tokens", _embedTokens);
        }
        var layers = new ModuleContainer("layers");
        _layers = [];
        for (int i = shard.LayerStart; i < shard.LayerEnd; i++)
        {
            var layer = new LlamaDecoderLayer(config, i - shard.LayerStart, dtype, device, split, group);
            layers.register_module(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
            _layers.Add(layer);
        }
        body.register_module("layers", layers);
        if (shard.IsLastStage)
        {
            _norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
            body.register_module("norm", _norm);
        }
        register_module("model", body);
        if (!config.TieWordEmbeddings && (shard.HasLmHead || shard.Vocab is not null))
        {
            _lmHead = shard.Vocab is { } headPart
                ? LinearLayer.ColumnParallel(config.HiddenSize, config.VocabSize, headPart.Start, headPart.Count, hasBias: false, dtype, device)
                : new LinearLayer(config.HiddenSize, config.VocabSize, hasBias: false, dtype, device);
            register_module("lm_head", _lmHead);
        }
        _rotary = new RotaryEmbedding(config, device);
    }

    public ModelConfig Config { get; }

    /// <summary>The part of the model this network holds (the whole model unless it is a shard).</summary>
    public ShardSpec Shard { get; }

    /// <summary>KV heads this network's layers keep (all of them unless tensor-parallel).</summary>
    public int NumKvHeads { get; }

    public ScalarType DType { get; }

    public Device Device { get; }

    /// <summary>
    /// Runs this network's layers over a ragged batch and writes the new tokens' K/V into each segment's
    /// cache (the caller advances the caches afterwards). <paramref name="batchDecodeRows"/> false makes every
    /// segment attend on its own (tests compare the two paths).
    /// input: token ids [T] int64 on a shard with the embedding, else hidden states [T, D] (the previous
    /// stage's, or the summed vocabulary parts' embeddings);
    /// positions: [T] int64 -> hidden states [T, D], normalized on the last stage.
    /// </summary>
    public Tensor Forward(Tensor input, Tensor positions, IReadOnlyList<BatchSegment> segments, bool batchDecodeRows = true, SequenceParallelStep? sequenceParallel = null)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = _rotary.CosSin(positions, DType);
        using var context = new ForwardContext(segments, cos, sin, Config.SlidingWindow, batchDecodeRows, sequenceParallel);
        var x = Shard.HasEmbedding ? _embedTokens!.forward(input) : input;
        foreach (var layer in _layers)
            x = layer.Forward(x, context);
        return (_norm is null ? x.alias() : _norm.forward(x)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// hidden: [R, D] (normalized) -> logits [R, V] in the run dtype, from the whole LM head; with a vocabulary
    /// part, the logits [R, count] of its ids only.
    /// </summary>
    public Tensor Logits(Tensor hidden)
    {
        if (!Shard.HasLmHead && Shard.Vocab is null) throw new InvalidOperationException($"shard {Shard} has no LM head");
        return _lmHead is null ? nn.functional.linear(hidden, _embedTokens!.Weight) : _lmHead.forward(hidden);
    }

    /// <summary>ids: [T] int64 -> this vocabulary part's share of their embeddings [T, D] (zero rows for ids it does not hold).</summary>
    public Tensor EmbedPart(Tensor ids)
    {
        if (Shard.Vocab is null) throw new InvalidOperationException($"shard {Shard} holds no vocabulary part");
        return _embedTokens!.forward(ids);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rotary.Dispose();
        base.Dispose(disposing);
    }
}
