using System.Globalization;
using System.Text;
using Cairn.Storage;

namespace Cairn.Server.Hosting;

/// <summary>
/// memcached's getopt-style flags (-p 9889, -p9889, --port=9889, -vv), looked up in <see cref="ServerFlags.All"/>.
/// Hand-written because memcached's harnesses pass short flags glued to values and repeated -v, which
/// System.CommandLine (used by the cairn tool) does not accept.
/// </summary>
public static class CommandLine
{
    private static readonly Dictionary<string, ServerFlag> ByName = IndexByName();

    public static ServerOptions Parse(IReadOnlyList<string> commandLine)
    {
        // A --config file's flags come first, so the command line overrides them: a later value replaces an earlier
        // one, and the options that add up (-l, -v) start over at their first use on the command line.
        var (configPath, fromFile, fromCommandLine) = ConfigFile.Split(commandLine);
        List<string> args = [.. fromFile, .. fromCommandLine];
        var options = new ServerOptions();
        var state = new FlagParseState();
        var i = 0;
        try
        {
            for (; i < args.Count; i++)
            {
                var onCommandLine = i >= fromFile.Count;
                var arg = args[i];
                if (arg.Length >= 2 && arg[0] == '-' && arg[1] != '-' && arg.AsSpan(1).TrimStart('v').IsEmpty)
                {
                    ServerFlags.AddVerbosity(options, new FlagArgument(arg, null, onCommandLine, state), arg.Length - 1);
                    continue;
                }

                var (flag, written, inlineValue) = Find(arg);
                string? value = null;
                if (flag.TakesValue)
                {
                    value = inlineValue ?? (i + 1 < args.Count ? args[++i] : throw new CommandLineException($"option '{arg}' needs a value"));
                }
                else if (inlineValue is not null && written.StartsWith("--", StringComparison.Ordinal))
                {
                    throw new CommandLineException($"option '{written}' takes no value (remove '={inlineValue}')");
                }

                try
                {
                    flag.Apply(options, new FlagArgument(written, value, onCommandLine, state));
                }
                catch (OptionValueException error)
                {
                    throw new CommandLineException($"invalid value '{value}' for {written}: {error.Reason}");
                }
            }
        }
        catch (CommandLineException error) when (i < fromFile.Count)
        {
            throw new CommandLineException($"--config {configPath}: {error.Message}");
        }

        ServerOptionChecks.Run(options, state);
        return options;
    }

    /// <summary>The flag an argument names, as written, and a value glued to it (-p9889, --port=9889), if any.</summary>
    private static (ServerFlag Flag, string Written, string? InlineValue) Find(string arg)
    {
        if (arg.StartsWith("--", StringComparison.Ordinal))
        {
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? arg : arg[..eq];
            return ByName.TryGetValue(name, out var flag)
                ? (flag, name, eq < 0 ? null : arg[(eq + 1)..])
                : throw new CommandLineException($"unknown option '{arg}' (see -h)");
        }

        if (arg.Length >= 2 && arg[0] == '-' && ByName.TryGetValue(arg[..2], out var shortFlag))
        {
            // A switch's letters cannot be glued together (-AF), as memcached's harnesses never do; -Afoo is refused.
            if (!shortFlag.TakesValue && arg.Length > 2)
            {
                throw new CommandLineException($"unknown option '{arg}' (see -h)");
            }

            return (shortFlag, arg[..2], arg.Length > 2 ? arg[2..] : null);
        }

        throw new CommandLineException(arg.StartsWith('-') ? $"unknown option '{arg}' (see -h)" : $"unexpected argument '{arg}'");
    }

    private static Dictionary<string, ServerFlag> IndexByName()
    {
        var byName = new Dictionary<string, ServerFlag>(StringComparer.Ordinal);
        foreach (var flag in ServerFlags.All)
        {
            if (flag.ShortName is { } letter)
            {
                byName.Add("-" + letter, flag);
            }

            if (flag.LongName is { } name)
            {
                byName.Add("--" + name, flag);
            }
        }

        return byName;
    }

    /// <summary>--help, written from the flag table; each default is read from a fresh <see cref="ServerOptions"/>.</summary>
    public static string HelpText { get; } = WriteHelp();

    private static string WriteHelp()
    {
        const int Column = 28;
        var defaults = new ServerOptions();
        var text = new StringBuilder("cairn-server: a memcached-compatible key-value server that keeps what it acknowledges.\n\n");
        foreach (var flag in ServerFlags.All.Where(flag => !flag.Ignored))
        {
            var names = (flag.ShortName, flag.LongName) switch
            {
                ({ } letter, { } name) => $"-{letter}, --{name}",
                ({ } letter, null) => $"-{letter}",
                (null, var name) => $"    --{name}",
            };
            if (flag.TakesValue)
            {
                names += flag.LongName is null ? $" <{flag.ValueName}>" : $"=<{flag.ValueName}>";
            }

            var lines = flag.Help.Split('\n');
            if (flag.Default is { } render)
            {
                var note = $"(default: {render(defaults)})";
                lines = lines[^1].Length + note.Length < 90 ? [.. lines[..^1], lines[^1] + " " + note] : [.. lines, note];
            }

            text.Append(names.Length < Column - 1 ? names.PadRight(Column) : names + "\n" + new string(' ', Column)).Append(lines[0]).Append('\n');
            foreach (var line in lines.Skip(1))
            {
                text.Append(' ', Column).Append(line).Append('\n');
            }
        }

        var ignored = ServerFlags.All.Where(flag => flag.Ignored).Select(flag => "-" + flag.ShortName);
        text.Append(string.Join(", ", ignored)).Append('\n').Append(' ', Column).Append("accepted and ignored (memcached compatibility)\n");
        return text.ToString();
    }

    /// <summary>HOST:PORT for --replica-of and --advertise; [v6]:port too.</summary>
    public static (string Host, int Port) ParseHostPort(string value, string flag)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new CommandLineException($"{flag} {value}: give HOST:PORT, for example 127.0.0.1:9889");
        }

        return (value[..colon].Trim('[', ']'), port);
    }
}

public sealed class CommandLineException(string message) : Exception(message);
