namespace Cairn.Tests.Support;

/// <summary>
/// A clock tests move by hand. Only wall-clock time is faked: timers and timestamps stay the
/// system's, so code that reads time through <see cref="TimeProvider.GetUtcNow"/> sees the fake.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    /// <summary>A fixed, unremarkable start so test expectations can be written as absolute Unix seconds.</summary>
    public static readonly DateTimeOffset DefaultStart = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private long _utcTicks;

    public ManualTimeProvider()
        : this(DefaultStart)
    {
    }

    public ManualTimeProvider(DateTimeOffset start)
    {
        _utcTicks = start.UtcTicks;
    }

    public DateTimeOffset UtcNow
    {
        get => new(Interlocked.Read(ref _utcTicks), TimeSpan.Zero);
        set => Interlocked.Exchange(ref _utcTicks, value.UtcTicks);
    }

    /// <summary>The current time as Unix seconds, the unit item expiry uses.</summary>
    public long UnixSeconds => UtcNow.ToUnixTimeSeconds();

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override DateTimeOffset GetUtcNow() => UtcNow;

    public void SetUtcNow(DateTimeOffset value) => UtcNow = value;

    public void Advance(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        Interlocked.Add(ref _utcTicks, delta.Ticks);
    }
}
