namespace Granary.Engine.KvReuse;

/// <summary>
/// A <see cref="TimeProvider"/> that moves only when told: TTL tests step through expiries exactly, and the
/// agent benchmark runs tool pauses in simulated time while steps advance it by their measured duration.
/// (FakeTimeProvider's package is not on this project's feed.)
/// </summary>
public sealed class SimulatedClock(DateTimeOffset start) : TimeProvider
{
    public SimulatedClock() : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)) { }

    public DateTimeOffset Start { get; } = start;

    public DateTimeOffset Now { get; private set; } = start;

    /// <summary>Seconds since <see cref="Start"/>.</summary>
    public double Seconds => (Now - Start).TotalSeconds;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by)
    {
        if (by < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(by), "time does not go back");
        Now += by;
    }

    /// <summary>Moves to <paramref name="seconds"/> after <see cref="Start"/> (never back), rounded up to a tick so that <see cref="Seconds"/> is then at least it.</summary>
    public void AdvanceTo(double seconds)
    {
        if (seconds > Seconds) Now = Start + TimeSpan.FromTicks((long)Math.Ceiling(seconds * TimeSpan.TicksPerSecond));
    }
}
