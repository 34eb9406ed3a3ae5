using Granary.Model.Configuration;
using Granary.Model.KvCache;
using Granary.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Runtime;

/// <summary>
/// A decoder (or one shard of it) with its weights on a device, ready to step: turns a batch of per-sequence
/// token lists into one ragged forward and returns the logits the caller asked for. Owns the network and
/// the pool its caches live in.
/// </summary>
public sealed class CausalLm(LlamaForCausalLM network) : ICausalLm
{
    public LlamaForCausalLM Network { get; } = network;

    /// <summary>Where every cache from <see cref="NewCache"/> lives, so that decode rows attend in one batch.</summary>
    public KvCachePool KvPool { get; } = new(network.Shard.NumLayers, network.NumKvHeads, network.Config.HeadDim, network.DType, network.Device);

    /// <summary>
    /// Whether single-token decode rows attend together (the default) or each on its own, as prompt chunks do.
    /// The results agree to rounding; tests and benchmarks compare the two.
    /// </summary>
    public bool BatchesDecodeRows { get; set; } = true;

    public ModelConfig Config => Network.Config;

    public Device Device => Network.Device;

    public ScalarType DType => Network.DType;

    /// <summary>Bytes of all weights (what a decode step must read).</summary>
    public long NumWeightBytes => Network.parameters().Sum(p => p.NumberOfElements * p.ElementSize);

    public long NumKvBytesPerPosition => KvPool.NumBytesPerPosition;

    public SequenceKvCache NewCache(int capacity) => new(KvPool, capacity);

    IKvCache ICausalLm.NewCache(int capacity) => NewCache(capacity);

    /// <inheritdoc/>
    public Tensor Step(IReadOnlyList<StepInput> inputs) => Step(inputs, head: null);

    /// <summary>
    /// <see cref="Step(IReadOnlyList{StepInput})"/> with another output head: <paramref name="head"/> maps the
    /// selected hidden rows [R, D] to logits [R, V'] (a draft's vocabulary-trimmed head); null is the model's own.
    /// </summary>
    public Tensor Step(IReadOnlyList<StepInput> inputs, Func<Tensor, Tensor>? head)
    {
        if (!Network.Shard.IsWhole) throw new InvalidOperationException($"shard {Network.Shard} cannot step alone; run it through its plan");
        StepInput.CheckAll(inputs);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var segments = inputs.Select(i => new BatchSegment(OwnCache(i.Cache), i.TokenIds.Count)).ToList();
        var layout = StepLayout.Of(inputs);
        var logits = ForwardShard(tensor(layout.TokenIds, int64, Device), layout, segments, head);
        return logits.to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// This network's part of one step: <paramref name="input"/> is the token ids [T] on a shard with the
    /// embedding, else hidden states [T, D]. Writes and advances the segments' caches (which must be this
    /// network's). Returns the hidden states [T, D], or on the last stage the logits [R, V] of the layout's
    /// logit rows (under vocabulary parallelism their normalized hidden states [R, D], for the vocabulary
    /// parts to finish: <see cref="PartLogits"/>), in the run dtype.
    /// </summary>
    public Tensor ForwardShard(Tensor input, StepLayout layout, IReadOnlyList<BatchSegment> segments, Func<Tensor, Tensor>? head = null,
        Sharding.SequenceParallelStep? sequenceParallel = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var hidden = Network.Forward(input, tensor(layout.Positions, int64, Device), segments, BatchesDecodeRows, sequenceParallel); // [T, D]
        Tensor output = hidden;
        if (Network.Shard.IsLastStage)
        {
            var selected = hidden.index_select(0, tensor(layout.LogitRows, int64, Device)); // [R, D]
            output = head is not null ? head(selected)                                    // [R, V']
                : Network.Shard.HasLmHead ? Network.Logits(selected)                      // [R, V]
                : selected;
        }
        foreach (var segment in segments) segment.Cache?.Advance(segment.NumTokens);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Vocabulary part: ids [T] int64 -> its share of their embeddings [T, D] in the run dtype.</summary>
    public Tensor EmbedPart(Tensor ids)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return Network.EmbedPart(ids.to(Device)).MoveToOuterDisposeScope();
    }

    /// <summary>Vocabulary part: normalized hidden states [R, D] -> the logits of its ids [R, count] in the run dtype.</summary>
    public Tensor PartLogits(Tensor hidden)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return Network.Logits(hidden.to(DType, Device)).MoveToOuterDisposeScope();
    }

    SequenceKvCache? OwnCache(IKvCache? cache) => cache switch
    {
        null => null,
        SequenceKvCache own => own,
        _ => throw new ArgumentException($"a step input's cache is a {cache.GetType().Name}, not one this model made"),
    };

    public void Dispose()
    {
        Network.Dispose();
        KvPool.Dispose();
    }
}
