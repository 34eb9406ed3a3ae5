using Granary.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Training;

/// <summary>
/// B windows of a token stream, each <c>context</c> inputs long with the next tokens as targets, laid out as
/// one cacheless ragged batch (B segments starting at position 0, tokens flattened to [B*S]).
/// </summary>
public sealed class SequenceBatch : IDisposable
{
    readonly List<BatchSegment> _segments;

    SequenceBatch(Tensor inputs, Tensor targets, Tensor positions, List<BatchSegment> segments)
    {
        Inputs = inputs;
        Targets = targets;
        Positions = positions;
        _segments = segments;
    }

    public Tensor Inputs { get; }    // [B*S] int64

    public Tensor Targets { get; }   // [B*S] int64

    public Tensor Positions { get; } // [B*S] int64

    public int NumTokens => _segments.Sum(s => s.NumTokens);

    /// <summary>Window i covers inputs tokens[start_i .. start_i + context) and targets one further.</summary>
    public static SequenceBatch FromWindows(int[] tokens, IReadOnlyList<int> starts, int context)
    {
        var inputs = new long[starts.Count * context];
        var targets = new long[starts.Count * context];
        var positions = new long[starts.Count * context];
        for (int w = 0; w < starts.Count; w++)
            for (int i = 0; i < context; i++)
            {
                int row = w * context + i;
                inputs[row] = tokens[starts[w] + i];
                targets[row] = tokens[starts[w] + i + 1];
                positions[row] = i;
            }
        var segments = starts.Select(_ => new BatchSegment(null, context)).ToList();
        return new SequenceBatch(tensor(inputs), tensor(targets), tensor(positions), segments);
    }

    /// <summary>Logits [B*S, V] of the network at every input position (with autograd when enabled).</summary>
    public Tensor Logits(LlamaForCausalLM network)
    {
        using var scope = NewDisposeScope();
        var hidden = network.Forward(Inputs, Positions, _segments);
        return network.Logits(hidden).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
        Positions.Dispose();
    }
}
