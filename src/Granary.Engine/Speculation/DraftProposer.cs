using Granary.Engine.Generation;
using Granary.Model.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Speculation;

/// <summary>
/// Runs the draft for a batch of sequences: k_max batched draft forwards, each feeding every still-drafting
/// sequence its previous proposal. The first forward also feeds whatever context the draft's cache has not
/// seen yet (the prompt on a sequence's first speculation, the last emitted token after a verification),
/// so the draft never needs a prefill of its own.
/// </summary>
public static class DraftProposer
{
    /// <summary>Proposals for <paramref name="sequences"/>, <paramref name="numTokens"/>[i] tokens for sequence i.</summary>
    public static DraftProposal[] Propose(DraftModel draft, IReadOnlyList<Sequence> sequences, IReadOnlyList<int> numTokens)
    {
        int count = sequences.Count;
        var tokens = Enumerable.Range(0, count).Select(i => new List<int>(numTokens[i])).ToArray();
        var probabilities = sequences.Select(s => s.Sampler.Parameters.IsGreedy ? null : new List<Tensor>()).ToArray();
        int maxTokens = numTokens.Count == 0 ? 0 : numTokens.Max();
        for (int j = 0; j < maxTokens; j++)
        {
            var active = Enumerable.Range(0, count).Where(i => numTokens[i] > j).ToList();
            var inputs = active.Select(i => new StepInput(DraftCache(sequences[i]), j == 0 ? UnseenContext(sequences[i]) : [tokens[i][j - 1]])).ToList();
            using var logits = draft.Step(inputs); // [active, proposable tokens]
            Choose(draft, active.Select(i => sequences[i]).ToList(), logits, active.Select(i => tokens[i]).ToList(), active.Select(i => probabilities[i]).ToList());
        }
        return Enumerable.Range(0, count).Select(i => new DraftProposal(tokens[i], probabilities[i])).ToArray();
    }

    // Greedy rows take one batched argmax; sampled rows draw from their proposal distribution q.
    static void Choose(DraftModel draft, IReadOnlyList<Sequence> sequences, Tensor logits, IReadOnlyList<List<int>> tokens, IReadOnlyList<List<Tensor>?> probabilities)
    {
        using var scope = NewDisposeScope();
        long[] argmax = logits.argmax(1).cpu().data<long>().ToArray();
        Tensor? rows = sequences.All(s => s.Sampler.Parameters.IsGreedy) ? null : logits.cpu();
        for (int r = 0; r < sequences.Count; r++)
        {
            if (probabilities[r] is not { } qs)
            {
                tokens[r].Add(draft.ToTokenId(argmax[r]));
                continue;
            }
            var sampler = sequences[r].Sampler;
            var q = sampler.ProposalProbabilities(rows![r]);
            int index = sampler.SampleFrom(q);
            tokens[r].Add(draft.ToTokenId(index));
            qs.Add(draft.ToFullVocabulary(q).DetachFromDisposeScope());
        }
    }

    static Model.KvCache.SequenceKvCache DraftCache(Sequence sequence) =>
        sequence.Speculation?.DraftCache ?? throw new InvalidOperationException($"sequence {sequence.Id} speculates without a draft cache");

    // Context tokens [draft cache length, NumTokens): everything up to and including the last emitted token.
    static int[] UnseenContext(Sequence sequence)
    {
        int start = DraftCache(sequence).Length;
        return Enumerable.Range(start, sequence.NumTokens - start).Select(sequence.TokenAt).ToArray();
    }
}
