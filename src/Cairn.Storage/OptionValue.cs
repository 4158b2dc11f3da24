using System.Globalization;

namespace Cairn.Storage;

/// <summary>
/// Range checks for option setters, so every option type refuses a value it cannot run with at the moment it is set (as
/// Kestrel's limits do) and the command line, the config file and code that builds options by hand get the same rule.
/// </summary>
public static class OptionValue
{
    public static int Within(int value, int min, int max) =>
        value >= min && value <= max ? value : throw new OptionValueException(string.Create(CultureInfo.InvariantCulture, $"must be {min} to {max}"));

    public static long AtLeast(long value, long min) =>
        value >= min ? value : throw new OptionValueException(string.Create(CultureInfo.InvariantCulture, $"must be at least {min}"));

    public static double Above(double value, double min) =>
        value > min ? value : throw new OptionValueException(string.Create(CultureInfo.InvariantCulture, $"must be greater than {min}"));

    public static double Between(double value, double lowExclusive, double highExclusive) =>
        value > lowExclusive && value < highExclusive
            ? value
            : throw new OptionValueException(string.Create(CultureInfo.InvariantCulture, $"must be between {lowExclusive} and {highExclusive}"));

    public static TimeSpan Within(TimeSpan value, TimeSpan min, TimeSpan max) =>
        value >= min && value <= max
            ? value
            : throw new OptionValueException(string.Create(CultureInfo.InvariantCulture, $"must be {min.TotalMilliseconds} to {max.TotalMilliseconds} ms"));
}

/// <summary>An option set to a value outside its range; the message says the range ("must be 1 to 16").</summary>
public sealed class OptionValueException(string reason) : ArgumentOutOfRangeException(null, reason)
{
    public string Reason { get; } = reason;
}
