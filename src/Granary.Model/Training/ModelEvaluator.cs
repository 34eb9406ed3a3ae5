using Granary.Model.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Granary.Model.Training;

/// <summary>A model's score on the held-out windows and its greedy (argmax) prediction at every target.</summary>
public sealed record ModelEvaluation(HeldOutScore Score, int[] GreedyTokens)
{
    /// <summary>Share of positions where both models' greedy next tokens agree, given the same prefix.</summary>
    public double AgreementWith(ModelEvaluation other) =>
        GreedyTokens.Zip(other.GreedyTokens).Count(pair => pair.First == pair.Second) / (double)GreedyTokens.Length;
}

/// <summary>Scores a network on <see cref="HeldOutWindows"/>, a few windows per forward, without gradients.</summary>
public static class ModelEvaluator
{
    public static ModelEvaluation Evaluate(LlamaForCausalLM network, HeldOutWindows windows, int windowsPerBatch)
    {
        using var noGrad = no_grad();
        double totalNats = 0;
        var greedy = new List<int>(windows.NumTargets);
        foreach (var starts in windows.Starts.Chunk(windowsPerBatch))
        {
            using var scope = NewDisposeScope();
            using var batch = SequenceBatch.FromWindows(windows.Stream.Tokens, starts, windows.Context);
            var logits = batch.Logits(network).to(float32);
            totalNats += nn.functional.cross_entropy(logits, batch.Targets, reduction: nn.Reduction.Sum).item<float>();
            greedy.AddRange(logits.argmax(-1).to(int32).data<int>().ToArray());
        }
        return new ModelEvaluation(windows.Score(totalNats), greedy.ToArray());
    }
}
