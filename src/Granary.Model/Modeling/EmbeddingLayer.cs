using Granary.Model.Runtime;
using Granary.Model.Sharding;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Granary.Model.Modeling;

/// <summary>
/// Token embedding table <c>weight</c> [V, D]; also the LM head when embeddings are tied. A vocabulary part
/// (<see cref="VocabPart"/>) holds rows [start, start + count) of the checkpoint's table: it embeds the ids
/// in its range and gives zero rows for the others, so the parts' outputs sum to the whole table's.
/// A table that is also the LM head (<c>tiedHead</c>) is stored like a projection weight (<see cref="WeightLayout"/>):
/// the head's product is most of a small model's step, while a lookup reads only a few of its rows.
/// </summary>
public sealed class EmbeddingLayer : nn.Module<Tensor, Tensor>, ISlicedParameters
{
    readonly Parameter _weight;
    readonly VocabRange? _part;
    readonly long _fullVocabSize;

    public EmbeddingLayer(long vocabSize, long hiddenSize, ScalarType dtype, Device device, bool tiedHead = false)
        : this(vocabSize, hiddenSize, null, dtype, device, tiedHead)
    {
    }

    EmbeddingLayer(long vocabSize, long hiddenSize, VocabRange? part, ScalarType dtype, Device device, bool tiedHead) : base(nameof(EmbeddingLayer))
    {
        _part = part;
        _fullVocabSize = vocabSize;
        long rows = part?.Count ?? vocabSize;
        _weight = new Parameter(tiedHead ? WeightLayout.NewProjectionWeight(rows, hiddenSize, dtype, device) : empty([rows, hiddenSize], dtype, device),
            requires_grad: false);
        register_parameter("weight", _weight);
    }

    /// <summary>Rows <paramref name="part"/> of a table of <paramref name="vocabSize"/> rows.</summary>
    public static EmbeddingLayer VocabPart(long vocabSize, long hiddenSize, VocabRange part, ScalarType dtype, Device device, bool tiedHead = false) =>
        new(vocabSize, hiddenSize, part, dtype, device, tiedHead);

    public Tensor Weight => _weight;

    // ids: [T] int64 -> [T, D]; a part gives zero rows for ids outside its range.
    public override Tensor forward(Tensor ids)
    {
        if (_part is null) return _weight.index_select(0, ids);
        using var scope = NewDisposeScope();
        // Scalars held for the calls (see Scalars).
        using Scalar start = _part.Start, count = _part.Count, last = _part.Count - 1;
        var local = ids.sub(start);
        var inRange = local.ge(Scalars.Zero).logical_and(local.lt(count));
        var rows = _weight.index_select(0, local.clamp(Scalars.Zero, last));
        return rows.mul(inRange.unsqueeze(1).to(rows.dtype)).MoveToOuterDisposeScope();
    }

    public (WeightSlice Slice, long FullLength)? SliceOf(string parameterName) =>
        _part is null ? null : (new WeightSlice(0, _part.Start, _part.Count), _fullVocabSize);
}
