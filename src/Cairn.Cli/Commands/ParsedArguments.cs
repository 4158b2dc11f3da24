using System.Globalization;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Commands;

/// <summary>Positionals and `--name value` / `--name=value` options; `--` ends the options, `-` is a positional.</summary>
internal sealed class ParsedArguments
{
    // Only the shell's friendly `set KEY VALUE [--ttl S] [--flags N]` is parsed here; `cairn`'s own command line is
    // declared in CliSyntax (System.CommandLine), which hands its result over through From.
    private static readonly HashSet<string> ValueOptions = ["server", "ttl", "flags"];

    private static readonly HashSet<string> SwitchOptions = ["help"];

    private readonly Dictionary<string, string> _options = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = [];

    public static ParsedArguments Parse(IEnumerable<string> args)
    {
        var parsed = new ParsedArguments();
        using var tokens = args.GetEnumerator();
        var optionsEnded = false;
        while (tokens.MoveNext())
        {
            var token = tokens.Current;
            if (optionsEnded || token == "-" || !token.StartsWith('-'))
            {
                parsed.Positionals.Add(token);
                continue;
            }

            if (token == "--")
            {
                optionsEnded = true;
                continue;
            }

            var name = token switch
            {
                "-h" => "help",
                "-s" => "server",
                _ when token.StartsWith("--", StringComparison.Ordinal) => token[2..],
                _ => throw new UsageException($"unknown option '{token}'"),
            };
            string? value = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }

            if (SwitchOptions.Contains(name))
            {
                parsed._options[name] = value ?? "true";
            }
            else if (ValueOptions.Contains(name))
            {
                if (value is null)
                {
                    value = tokens.MoveNext() ? tokens.Current : throw new UsageException($"--{name} needs a value");
                }

                parsed._options[name] = value;
            }
            else
            {
                throw new UsageException($"unknown option '--{name}'");
            }
        }

        return parsed;
    }

    /// <summary>What System.CommandLine parsed (<see cref="CliSyntax"/>), in this form: option name to text, then positionals.</summary>
    public static ParsedArguments From(IEnumerable<(string Name, string Value)> options, IEnumerable<string> positionals)
    {
        var parsed = new ParsedArguments();
        foreach (var (name, value) in options)
        {
            parsed._options[name] = value;
        }

        parsed.Positionals.AddRange(positionals);
        return parsed;
    }

    public bool Has(string name) => _options.ContainsKey(name);

    public string? Get(string name) => _options.GetValueOrDefault(name);

    /// <summary>Refuses options this command does not take, so a typo is not silently ignored.</summary>
    public void AllowOnly(string command, params string[] names)
    {
        foreach (var name in _options.Keys)
        {
            if (name != "server" && name != "help" && !names.Contains(name))
            {
                throw new UsageException($"'{command}' does not take --{name}");
            }
        }
    }

    public long GetInt64(string name, long fallback, long min, long max)
    {
        var text = Get(name);
        if (text is null)
        {
            return fallback;
        }

        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new UsageException($"--{name} must be a whole number from {min} to {max}");
    }

    public int GetInt32(string name, int fallback, int min, int max = int.MaxValue) => (int)GetInt64(name, fallback, min, max);
}
