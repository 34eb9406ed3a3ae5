using static TorchSharp.torch;

namespace Granary.Model.Runtime;

/// <summary>
/// The flat layout of one ragged step: every input's new tokens back to back with their positions, and the
/// rows whose logits were asked for. Computed once per step and shared by every shard of a plan.
/// </summary>
public sealed record StepLayout(long[] TokenIds, long[] Positions, long[] LogitRows)
{
    public static StepLayout Of(IReadOnlyList<StepInput> inputs)
    {
        int numTokens = inputs.Sum(i => i.TokenIds.Count);
        var ids = new long[numTokens];
        var positions = new long[numTokens];
        var rows = new List<long>(inputs.Sum(i => i.NumLogitRows));
        int offset = 0;
        foreach (var input in inputs)
        {
            var tokens = input.TokenIds;
            int start = input.StartPosition;
            for (int j = 0; j < tokens.Count; j++)
            {
                ids[offset + j] = tokens[j];
                positions[offset + j] = start + j;
            }
            if (input.AllLogits)
                for (int j = 0; j < tokens.Count; j++) rows.Add(offset + j);
            else
                rows.Add(offset + tokens.Count - 1);
            offset += tokens.Count;
        }
        return new StepLayout(ids, positions, rows.ToArray());
    }
}
