using Granary.Model.Modeling;
using Granary.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Speculation;

/// <summary>
/// VocabTrim: a draft's LM head cut to the N target tokens that occur most often, so every draft step
/// computes N logits instead of V (the head is most of a small draft's work). The draft then proposes only
/// kept tokens; verification is unchanged, so the output stays exactly the target's. Row i of the trimmed
/// head is row KeptTokenIds[i] of the full head (the tied embedding, or lm_head).
/// </summary>
public sealed class VocabTrimHead : IDisposable
{
    readonly Tensor _weight; // [N, D]
    readonly Tensor _keptIds; // [N] int64

    public VocabTrimHead(CausalLm draft, IReadOnlyList<int> keptTokenIds)
    {
        if (keptTokenIds.Count == 0) throw new ArgumentException("VocabTrim keeps at least one token", nameof(keptTokenIds));
        int vocab = draft.Config.VocabSize;
        if (keptTokenIds.Any(id => id < 0 || id >= vocab)) throw new ArgumentException($"kept token ids must be in 0..{vocab - 1}", nameof(keptTokenIds));
        var parameters = draft.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var fullHead = parameters.GetValueOrDefault("lm_head.weight") ?? parameters["model.embed_tokens.weight"]; // [V, D]
        KeptTokenIds = keptTokenIds.ToArray();
        VocabSize = vocab;
        _keptIds = tensor(KeptTokenIds.Select(id => (long)id).ToArray(), int64, draft.Device);
        using var noGrad = no_grad();
        using var keptRows = fullHead.index_select(0, _keptIds); // [N, D]
        _weight = WeightLayout.AsProjectionWeight(keptRows);
    }

    /// <summary>Trimmed-head index i -> token id.</summary>
    public int[] KeptTokenIds { get; }

    /// <summary>The full vocabulary size V.</summary>
    public int VocabSize { get; }

    public int NumKept => KeptTokenIds.Length;

    public long NumWeightBytes => _weight.NumberOfElements * _weight.ElementSize;

    /// <summary>hidden: [R, D] -> logits over the kept tokens [R, N].</summary>
    public Tensor Logits(Tensor hidden) => nn.functional.linear(hidden, _weight);

    /// <summary>probs over the kept tokens [N] (CPU) -> the same distribution over the full vocabulary [V].</summary>
    public Tensor ToFullVocabulary(Tensor keptProbs)
    {
        using var ids = _keptIds.device.type == DeviceType.CPU ? _keptIds.alias() : _keptIds.cpu();
        return zeros(VocabSize, keptProbs.dtype).index_copy_(0, ids, keptProbs);
    }

    public void Dispose()
    {
        _weight.Dispose();
        _keptIds.Dispose();
    }
}
