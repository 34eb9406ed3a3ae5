using Granary.Engine.Generation;
using Granary.Model.KvCache;
using Granary.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Speculation;

/// <summary>
/// The small model that proposes tokens for the target to verify, optionally with a VocabTrim head. It must
/// share the target's vocabulary (same tokenizer), since its token ids are fed to the target as they are.
/// Its KV caches live in its own pool. This is the drafter that runs in the engine's process.
/// </summary>
public sealed class DraftModel : IDrafter, IDisposable
{
    readonly bool _ownsModel;

    public DraftModel(CausalLm model, VocabTrimHead? trim = null, bool ownsModel = false)
    {
        Model = model;
        Trim = trim;
        _ownsModel = ownsModel;
    }

    public CausalLm Model { get; }

    public VocabTrimHead? Trim { get; }

    /// <summary>Token ids the draft can propose: the trimmed head's, or the whole vocabulary.</summary>
    public int NumProposableTokens => Trim?.NumKept ?? Model.Config.VocabSize;

    public int VocabSize => Model.Config.VocabSize;

    public int MaxPositionEmbeddings => Model.Config.MaxPositionEmbeddings;

    public long NumKvBytesPerPosition => Model.KvPool.NumBytesPerPosition;

    public long NumWeightBytes => Model.NumWeightBytes + (Trim?.NumWeightBytes ?? 0);

    public SequenceKvCache NewCache(int capacity) => Model.NewCache(capacity);

    IKvCache IDrafter.NewCache(int capacity) => NewCache(capacity);

    /// <summary>Throws a user error naming <paramref name="flag"/> when this draft cannot serve <paramref name="target"/>.</summary>
    public void CheckCompatibleWith(ICausalLm target, string flag = "--draft") =>
        DraftCompatibility.Check(VocabSize, MaxPositionEmbeddings, target, flag);

    public DraftProposal[] Propose(IReadOnlyList<Sequence> sequences, IReadOnlyList<int> numTokens) =>
        DraftProposer.Propose(this, sequences.Select((s, i) => DraftRow.For(s, DraftCacheOf(s), numTokens[i])).ToList());

    static IKvCache DraftCacheOf(Sequence sequence) =>
        sequence.Speculation?.DraftCache ?? throw new InvalidOperationException($"sequence {sequence.Id} speculates without a draft cache");

    /// <summary>One batched draft forward; logits [inputs, proposable tokens] fp32 (trimmed when VocabTrim is on).</summary>
    public Tensor Step(IReadOnlyList<StepInput> inputs) => Model.Step(inputs, Trim is null ? null : Trim.Logits);

    /// <summary>Row index of <see cref="Step"/>'s logits -> token id.</summary>
    public int ToTokenId(long index) => Trim is null ? (int)index : Trim.KeptTokenIds[index];

    /// <summary>A proposal distribution over the draft's logits row -> the same over the full vocabulary [V].</summary>
    public Tensor ToFullVocabulary(Tensor probs) => Trim is null ? probs : Trim.ToFullVocabulary(probs);

    public void Dispose()
    {
        Trim?.Dispose();
        if (_ownsModel) Model.Dispose();
    }
}
