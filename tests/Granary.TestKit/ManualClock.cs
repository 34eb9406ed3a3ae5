namespace Granary.TestKit;

/// <summary>
/// A <see cref="TimeProvider"/> that only moves when a test says so (FakeTimeProvider's package is not on
/// this feed): TTL tests step through expiries exactly, with no sleeping.
/// </summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    DateTimeOffset _now = start;

    public ManualClock() : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)) { }

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
