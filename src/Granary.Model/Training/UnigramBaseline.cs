namespace Granary.Model.Training;

/// <summary>
/// The no-context baseline: each token's frequency in the training stream (add-one smoothed over the
/// vocabulary, so held-out tokens never seen in training still get a finite cost), scored on held-out.
/// </summary>
public static class UnigramBaseline
{
    public static HeldOutScore Evaluate(TokenStream training, HeldOutWindows windows, int vocabSize)
    {
        var counts = new long[vocabSize];
        foreach (int token in training.Tokens) counts[token]++;
        double total = training.Count + vocabSize;
        double nats = windows.Targets().Sum(position => -Math.Log((counts[windows.Stream.Tokens[position]] + 1) / total));
        return windows.Score(nats);
    }
}
