using Granary.Model.Configuration;
using Granary.Model.KvCache;
using Granary.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Runtime;

/// <summary>
/// A decoder with its weights on a device, ready to step: turns a batch of per-sequence token lists into
/// one ragged forward and returns the logits the caller asked for. Owns the network.
/// </summary>
public sealed class CausalLm(LlamaForCausalLM network) : IDisposable
{
    public LlamaForCausalLM Network { get; } = network;

    /// <summary>Where every cache from <see cref="NewCache"/> lives, so that decode rows attend in one batch.</summary>
    public KvCachePool KvPool { get; } = new(network.Config.NumLayers, network.Config.NumKvHeads, network.Config.HeadDim, network.DType, network.Device);

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

    public SequenceKvCache NewCache(int capacity) => new(KvPool, capacity);

    /// <summary>
    /// Runs one forward over all inputs, appends their K/V to their caches, and returns fp32 logits
    /// [R, V] on the model's device: for each input in order, its last token's row, or all its rows.
    /// </summary>
    public Tensor Step(IReadOnlyList<StepInput> inputs) => Step(inputs, head: null);

    /// <summary>
    /// <see cref="Step(IReadOnlyList{StepInput})"/> with another output head: <paramref name="head"/> maps the
    /// selected hidden rows [R, D] to logits [R, V'] (a draft's vocabulary-trimmed head); null is the model's own.
    /// </summary>
    public Tensor Step(IReadOnlyList<StepInput> inputs, Func<Tensor, Tensor>? head)
    {
        if (inputs.Count == 0) throw new ArgumentException("a step needs at least one input", nameof(inputs));
        foreach (var input in inputs)
        {
            if (input.TokenIds.Count == 0) throw new ArgumentException("a step input needs at least one token", nameof(inputs));
            if (input.Cache is { } cache && !cache.CanAppend(input.TokenIds.Count))
                throw new InvalidOperationException($"KV cache full: {cache.Length} + {input.TokenIds.Count} tokens exceed capacity {cache.Capacity}");
        }
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var segments = inputs.Select(i => new BatchSegment(i.Cache, i.TokenIds.Count)).ToList();
        var (tokenIds, positions, logitRows) = Layout(inputs, segments);
        var hidden = Network.Forward(tokenIds, positions, segments, BatchesDecodeRows);     // [T, D]
        var selected = hidden.index_select(0, logitRows);                 // [R, D]
        var logits = head is null ? Network.Logits(selected) : head(selected); // [R, V]
        foreach (var segment in segments) segment.Cache?.Advance(segment.NumTokens);
        return logits.to(float32).MoveToOuterDisposeScope();
    }

    (Tensor TokenIds, Tensor Positions, Tensor LogitRows) Layout(IReadOnlyList<StepInput> inputs, IReadOnlyList<BatchSegment> segments)
    {
        int numTokens = inputs.Sum(i => i.TokenIds.Count);
        var ids = new long[numTokens];
        var positions = new long[numTokens];
        var rows = new List<long>(inputs.Sum(i => i.NumLogitRows));
        int offset = 0;
        for (int s = 0; s < inputs.Count; s++)
        {
            var tokens = inputs[s].TokenIds;
            int start = segments[s].StartPosition;
            for (int j = 0; j < tokens.Count; j++)
            {
                ids[offset + j] = tokens[j];
                positions[offset + j] = start + j;
            }
            if (inputs[s].AllLogits)
                for (int j = 0; j < tokens.Count; j++) rows.Add(offset + j);
            else
                rows.Add(offset + tokens.Count - 1);
            offset += tokens.Count;
        }
        return (tensor(ids, int64, Device), tensor(positions, int64, Device), tensor(rows.ToArray(), int64, Device));
    }

    public void Dispose()
    {
        Network.Dispose();
        KvPool.Dispose();
    }
}
