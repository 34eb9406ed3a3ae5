using Granary.Model.Runtime;
using Granary.Model.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Speculation;

/// <summary>
/// Runs the draft for a batch of rows: k_max batched draft forwards, each feeding every still-drafting row
/// its previous proposal. The first forward also feeds whatever context the draft's cache has not seen yet
/// (the prompt on a sequence's first speculation, the last emitted token after a verification), so the
/// draft never needs a prefill of its own. The same code runs beside the engine and on a draft grain.
/// </summary>
public static class DraftProposer
{
    /// <summary>Proposals for <paramref name="rows"/>, row i's NumTokens tokens for row i.</summary>
    public static DraftProposal[] Propose(DraftModel draft, IReadOnlyList<DraftRow> rows)
    {
        int count = rows.Count;
        var tokens = rows.Select(r => new List<int>(r.NumTokens)).ToArray();
        var probabilities = rows.Select(r => r.Sampling is null ? null : new List<Tensor>()).ToArray();
        int maxTokens = count == 0 ? 0 : rows.Max(r => r.NumTokens);
        for (int j = 0; j < maxTokens; j++)
        {
            var active = Enumerable.Range(0, count).Where(i => rows[i].NumTokens > j).ToList();
            var inputs = active.Select(i => new StepInput(rows[i].Cache, j == 0 ? rows[i].UnseenTokens : [tokens[i][j - 1]])).ToList();
            using var logits = draft.Step(inputs); // [active, proposable tokens]
            Choose(draft, active.Select(i => rows[i].Sampling).ToList(), logits, active.Select(i => tokens[i]).ToList(), active.Select(i => probabilities[i]).ToList());
        }
        return Enumerable.Range(0, count).Select(i => new DraftProposal(tokens[i], probabilities[i])).ToArray();
    }

    // Greedy rows take one batched argmax; sampled rows draw from their proposal distribution q.
    static void Choose(DraftModel draft, IReadOnlyList<DraftSampling?> samplings, Tensor logits, IReadOnlyList<List<int>> tokens, IReadOnlyList<List<Tensor>?> probabilities)
    {
        using var scope = NewDisposeScope();
        long[] argmax = logits.argmax(1).cpu().data<long>().ToArray();
        Tensor? rows = samplings.All(s => s is null) ? null : logits.cpu();
        for (int r = 0; r < samplings.Count; r++)
        {
            if (samplings[r] is not { } sampling)
            {
                tokens[r].Add(draft.ToTokenId(argmax[r]));
                continue;
            }
            var q = sampling.Sampler.ProposalProbabilities(rows![r]);
            int index = SequenceSampler.SampleFrom(q, sampling.NextUniform());
            tokens[r].Add(draft.ToTokenId(index));
            probabilities[r]!.Add(draft.ToFullVocabulary(q).DetachFromDisposeScope());
        }
    }
}
