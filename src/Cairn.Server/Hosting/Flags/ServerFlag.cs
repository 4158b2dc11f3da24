using System.Globalization;
using Cairn.Storage;

namespace Cairn.Server.Hosting;

/// <summary>
/// One row of the server's flag table: its names, what it sets and how it is described in --help. The parser and the
/// help text both read <see cref="ServerFlags.All"/>, so a flag cannot be accepted without being documented.
/// </summary>
public sealed class ServerFlag
{
    public required char? ShortName { get; init; }

    public required string? LongName { get; init; }

    /// <summary>The placeholder in --help ("num", "file"); null for a switch, which takes no value.</summary>
    public string? ValueName { get; init; }

    public string Help { get; init; } = "";

    /// <summary>Applies one use of the flag; a value out of range surfaces as <see cref="OptionValueException"/> from the setter.</summary>
    public required Action<ServerOptions, FlagArgument> Apply { get; init; }

    /// <summary>Renders the default from a fresh <see cref="ServerOptions"/>, so --help cannot drift from the code.</summary>
    public Func<ServerOptions, string>? Default { get; init; }

    /// <summary>Accepted so memcached's init scripts start Cairn unchanged, and listed together on one help line.</summary>
    public bool Ignored { get; init; }

    public bool TakesValue => ValueName is not null;
}

/// <summary>One use of a flag on the command line or in the config file: the value and how it was written, for messages.</summary>
public sealed class FlagArgument
{
    internal FlagArgument(string written, string? value, bool onCommandLine, FlagParseState state)
    {
        Written = written;
        RawValue = value;
        OnCommandLine = onCommandLine;
        State = state;
    }

    /// <summary>The flag as the operator wrote it ("-p", "--port"), so messages use their spelling.</summary>
    public string Written { get; }

    public string? RawValue { get; }

    public bool OnCommandLine { get; }

    internal FlagParseState State { get; }

    public string Value => RawValue ?? throw new CommandLineException($"option '{Written}' needs a value");

    public int WholeNumber()
    {
        if (!int.TryParse(Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
        {
            throw new CommandLineException($"invalid value '{Value}' for {Written}: not a whole number");
        }

        return number;
    }

    public double Number()
    {
        if (!double.TryParse(Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            throw new CommandLineException($"invalid value '{Value}' for {Written}: not a number");
        }

        return number;
    }

    public TimeSpan Milliseconds() => TimeSpan.FromMilliseconds(WholeNumber());

    public int Octal()
    {
        try
        {
            return Convert.ToInt32(Value, 8);
        }
        catch (Exception error) when (error is FormatException or ArgumentException or OverflowException)
        {
            throw new CommandLineException($"invalid octal mask '{Value}' for {Written}");
        }
    }

    /// <summary>Numbers with an optional k/m/g suffix, as memcached's -I takes them; a bare number is in <paramref name="defaultUnit"/>.</summary>
    public long Size(long defaultUnit)
    {
        var text = Value.Trim();
        var unit = defaultUnit;
        if (text.Length > 0 && char.ToLowerInvariant(text[^1]) is 'k' or 'm' or 'g')
        {
            unit = char.ToLowerInvariant(text[^1]) switch
            {
                'k' => 1024,
                'm' => 1024 * 1024,
                _ => 1024L * 1024 * 1024,
            };
            text = text[..^1];
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) || number <= 0)
        {
            throw new CommandLineException($"{Written} {Value}: not a size; give a positive number with an optional k, m or g suffix");
        }

        if (number > long.MaxValue / unit)
        {
            throw new CommandLineException($"{Written} {Value}: too large");
        }

        return number * unit;
    }

    /// <summary>One of a fixed set of words, refused in <paramref name="refusal"/>'s words otherwise.</summary>
    public T OneOf<T>(IReadOnlyDictionary<string, T> choices, Func<string, string> refusal) =>
        choices.TryGetValue(Value, out var choice) ? choice : throw new CommandLineException(refusal(Value));

    public string HostPort()
    {
        _ = CommandLine.ParseHostPort(Value, Written);
        return Value;
    }
}

/// <summary>What one parse remembers across flags: which flags start over on the command line, and what later checks need.</summary>
internal sealed class FlagParseState
{
    public bool ProtocolGiven { get; set; }

    public string? ItemSizeText { get; set; }

    public long ItemSize { get; set; }

    public bool ListenGivenOnCommandLine { get; set; }

    public bool VerbosityGivenOnCommandLine { get; set; }
}
