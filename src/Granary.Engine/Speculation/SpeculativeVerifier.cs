using Granary.Model.Runtime;
using System.Text;
using Granary.Engine.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Engine.Speculation;

/// <summary>What verification did to one sequence: the tokens it emitted (1..k+1, fewer if it finished) and their text.</summary>
public sealed record Verification(IReadOnlyList<int> TokenIds, string Text, int NumAccepted);

/// <summary>
/// Verifies one sequence's proposal against the target's logits for its k + 1 positions, appends the
/// emitted tokens to the sequence (stopping at EOS, a stop string or max_tokens: nothing after is emitted),
/// and rolls back both KV caches to exactly the tokens the sequence now holds.
/// </summary>
public static class SpeculativeVerifier
{
    /// <param name="logits">[R, V] fp32: the target's rows; this sequence's are [rowStart, rowStart + k].</param>
    /// <param name="argmax">The argmax of every row of <paramref name="logits"/> (one batched op for all greedy sequences).</param>
    public static Verification Verify(Sequence sequence, DraftProposal proposal, Tensor logits, int rowStart, IReadOnlyList<long> argmax, SpeculationStats stats)
    {
        int numContext = sequence.NumTokens; // the target cache holds numContext - 1 before this step, numContext + k after
        var (emitted, numAccepted) = sequence.Sampler.IsPlainGreedy
            ? GreedyTokens(proposal, argmax, rowStart)
            : (null, -1);
        var text = new StringBuilder();
        var appended = new List<int>(proposal.Count + 1);
        if (emitted is not null)
        {
            foreach (int token in emitted)
            {
                if (sequence.IsFinished) break;
                text.Append(sequence.Append(token));
                appended.Add(token);
            }
        }
        else
        {
            numAccepted = SampleTokens(sequence, proposal, logits, rowStart, text, appended);
        }
        RollBack(sequence, numContext, numAccepted);
        stats.Record(proposal.Count, numAccepted, numAccepted + 1);
        sequence.Speculation?.Observe(proposal.Count, numAccepted);
        return new Verification(appended, text.ToString(), numAccepted);
    }

    static (int[] Tokens, int NumAccepted) GreedyTokens(DraftProposal proposal, IReadOnlyList<long> argmax, int rowStart)
    {
        int n = AcceptanceRule.NumGreedyAccepted(proposal.TokenIds, argmax, rowStart);
        return ([.. proposal.TokenIds.Take(n), (int)argmax[rowStart + n]], n);
    }

    // Position by position, appending as it goes: the target's p at position i must see the tokens accepted
    // before it (the repetition penalty depends on them), exactly as plain sampling would.
    static int SampleTokens(Sequence sequence, DraftProposal proposal, Tensor logits, int rowStart, StringBuilder text, List<int> appended)
    {
        using var scope = NewDisposeScope();
        var sampler = sequence.Sampler;
        bool isGreedy = sampler.Parameters.IsGreedy;
        var rows = logits.narrow(0, rowStart, proposal.Count + 1).cpu(); // [k+1, V]
        int numAccepted = 0;
        int? correction = null;
        for (int i = 0; i < proposal.Count; i++)
        {
            var p = sampler.Probabilities(rows[i]);
            int draftToken = proposal.TokenIds[i];
            var q = proposal.ProposalProbabilities?[i] ?? OneHot(p, draftToken);
            // Greedy: p and q are one-hot, the test is deterministic and needs no random draw.
            double uniform = isGreedy ? 0 : sampler.NextUniform();
            if (!AcceptanceRule.Accepts(p, q, draftToken, uniform, out var residual))
            {
                correction = isGreedy ? (int)residual!.argmax().item<long>() : sampler.SampleFrom(residual!);
                break;
            }
            numAccepted++;
            if (!Emit(sequence, draftToken, text, appended)) return numAccepted;
        }
        if (correction is null)
        {
            var p = sampler.Probabilities(rows[proposal.Count]); // every proposal accepted: the bonus token
            correction = isGreedy ? (int)p.argmax().item<long>() : sampler.SampleFrom(p);
        }
        Emit(sequence, correction.Value, text, appended);
        return numAccepted;
    }

    static Tensor OneHot(Tensor like, int token) => zeros_like(like).index_fill_(0, tensor(new long[] { token }), Scalars.One);

    static bool Emit(Sequence sequence, int token, StringBuilder text, List<int> appended)
    {
        text.Append(sequence.Append(token));
        appended.Add(token);
        return !sequence.IsFinished;
    }

    // The target cache now holds context + all k proposals, the draft's context + the first k - 1: keep only
    // context + the accepted ones (the emitted correction or bonus token is fed by the next step).
    static void RollBack(Sequence sequence, int numContext, int numAccepted)
    {
        int valid = numContext + numAccepted;
        if (sequence.Cache is { } cache && cache.Length > valid) cache.Truncate(valid);
        if (sequence.Speculation?.DraftCache is { } draftCache && draftCache.Length > valid) draftCache.Truncate(valid);
    }
}
