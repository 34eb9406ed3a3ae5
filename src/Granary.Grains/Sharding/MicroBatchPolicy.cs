namespace Granary.Grains.Sharding;

/// <summary>
/// How many micro-batches a sharded step is cut into: one (stages run one after another) or one per stage
/// (stages overlap, at the price of more, smaller calls). Which wins depends on the hardware: stages on their
/// own devices overlap for real, while stages sharing a machine's cores only pay the extra calls. So it is
/// measured: each choice is tried on the first steps, the faster (seconds per token, decayed) is kept, and the
/// other is tried again now and then in case the load changed. Thread-safe (pipeline lanes step concurrently).
/// </summary>
public sealed class MicroBatchPolicy(int numStages)
{
    const int ProbeSteps = 6;       // steps each choice gets before the first decision
    const int ReprobeEvery = 64;    // then one step of the other choice every this many steps
    const double Decay = 0.9;

    readonly double[] _secondsPerToken = [double.NaN, double.NaN]; // [one micro-batch, one per stage]
    readonly int[] _samples = new int[2];
    readonly Lock _lock = new();
    long _steps;

    /// <summary>Fixes the choice instead of measuring (null: measure).</summary>
    public int? Fixed { get; set; }

    public int Choose(int numInputs)
    {
        if (Fixed is { } fixedCount) return Math.Clamp(fixedCount, 1, numInputs);
        if (numStages == 1 || numInputs < 2) return 1;
        lock (_lock) return ChooseMeasured() == 0 ? 1 : Math.Min(numStages, numInputs);
    }

    int ChooseMeasured()
    {
        int choice;
        if (_samples[0] < ProbeSteps || _samples[1] < ProbeSteps)
            choice = _samples[0] <= _samples[1] ? 0 : 1;
        else
        {
            choice = _secondsPerToken[1] < _secondsPerToken[0] ? 1 : 0;
            if (_steps % ReprobeEvery == ReprobeEvery - 1) choice = 1 - choice;
        }
        return choice;
    }

    /// <summary>
    /// Counts a step's time. Only decode steps (one token per input) are compared: a prompt chunk's tokens cost
    /// far less each, and would make whichever choice ran the prefill look better than it is.
    /// </summary>
    public void Record(int microBatches, int numInputs, int numTokens, double seconds)
    {
        if (Fixed is not null || numTokens == 0 || numTokens != numInputs) return;
        int choice = microBatches > 1 ? 1 : 0;
        double perToken = seconds / numTokens;
        lock (_lock) Add(choice, perToken);
    }

    void Add(int choice, double perToken)
    {
        // A plain mean over the first samples (so no single early step dominates), then a decaying one.
        int n = ++_samples[choice];
        double weight = Math.Max(1 - Decay, 1.0 / n);
        _secondsPerToken[choice] = double.IsNaN(_secondsPerToken[choice]) ? perToken : _secondsPerToken[choice] + weight * (perToken - _secondsPerToken[choice]);
        _steps++;
    }
}
