namespace Granary.Model.Training;

/// <summary>Linear warmup to the peak learning rate, then cosine decay to <c>MinFraction</c> of it.</summary>
public sealed record CosineSchedule(double PeakLr, int WarmupSteps, int TotalSteps, double MinFraction = 0.1)
{
    public double At(int step)
    {
        if (step < WarmupSteps) return PeakLr * (step + 1) / WarmupSteps;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps));
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return PeakLr * (MinFraction + (1 - MinFraction) * cosine);
    }
}
