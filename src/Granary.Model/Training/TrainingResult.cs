namespace Granary.Model.Training;

/// <summary>What one model's training did: its loss on the first batch and over the last steps, and its speed.</summary>
public sealed record TrainingResult(int Steps, long Tokens, double InitialLoss, double FinalLoss, double Seconds)
{
    public double TokensPerSecond => Tokens / Math.Max(Seconds, 1e-9);
}
