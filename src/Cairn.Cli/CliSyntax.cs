using System.CommandLine;
using Cairn.Cli.Commands;

namespace Cairn.Cli;

/// <summary>
/// `cairn`'s commands, arguments and options as System.CommandLine declares them: it parses, refuses what no command
/// takes, writes `--help` for each command and answers shell completion. What it parsed is handed to the commands
/// as <see cref="ParsedArguments"/> (option name to text, positionals), whose checks give the precise messages.
/// </summary>
internal static class CliSyntax
{
    private static readonly Option<string> Server = new("--server", "-s")
    {
        Description = "the server as host:port (default 127.0.0.1:9889), or a list h:p[:w],h:p[:w],... that get/set/delete/incr place keys over with ketama",
        Recursive = true,
    };

    private static readonly Option<string> Hash = new("--hash")
    {
        Description = "the ketama over a --server list: md5 (default; nutcracker, pylibmc ketama_weighted) or one-at-a-time",
        Recursive = true,
    };

    private static readonly Option<bool> Version = new("--version") { Description = "print cairn's version" };

    public static RootCommand Build(string usage)
    {
        var root = new RootCommand(usage) { Server, Hash };
        foreach (var builtIn in root.Options.OfType<VersionOption>().ToList())
        {
            // cairn says its version as "cairn X.Y.Z", as before; System.CommandLine's would add a commit hash.
            root.Options.Remove(builtIn);
        }

        root.Options.Add(Version);

        // With no command cairn opens its shell, so the root takes no command too (the shell itself runs elsewhere).
        root.SetAction(_ => 0);
        root.Subcommands.Add(Command("get", "print the value; exit 1 when not found", Arguments("KEY")));
        root.Subcommands.Add(Command("set", "store VALUE (`-` reads it from stdin); exit 1 when not stored", Arguments("KEY", "VALUE"),
            Text("--ttl", "seconds until it expires (default 0: never)"), Text("--flags", "32-bit client flags (default 0)")));
        root.Subcommands.Add(Command("delete", "exit 1 when not found", Arguments("KEY")));
        root.Subcommands.Add(Command("incr", "add N (default 1) and print the new value", [Argument("KEY"), Optional("N")]));
        root.Subcommands.Add(Command("stats", "print the server's statistics", [Optional("GROUP")]));
        root.Subcommands.Add(Command("compact", "rewrite the server's log now", []));
        root.Subcommands.Add(Command("bench", Bench.BenchOptions.Description, [],
            Text("--threads", "threads (default 20)"), Text("--clients", "clients per thread (default 10)"),
            Text("--connections", "connections, overriding threads x clients"), Text("--requests", "requests per connection (default 100)"),
            Text("--duration", "run for S seconds instead of a request count"), Text("--ratio", "SET:GET (default 1:10)"),
            Text("--value-size", "value bytes (default 100)"), Text("--keys", "distinct keys (default 10000)"),
            Text("--key-pattern", "uniform (default) or zipf"), Text("--pipeline", "requests sent before waiting (default 1)"),
            Text("--protocol", "text (default) or meta"), Text("--rate", "open loop: N requests a second in all, latency from when each was due"),
            Switch("--json", "one JSON object instead of the summary"), Switch("--progress", "progress on stderr even when it is not a terminal")));
        root.Subcommands.Add(Command("reshard", Reshard.ReshardOptions.Description, [],
            Text("--from", "the servers as clients placed keys until now"), Text("--to", "the servers as clients place keys from now on"),
            Text("--batch", "items per pipelined round trip (default 100)"), Switch("--dry-run", "report how many items would move; change nothing")));
        root.Subcommands.Add(Command("backup", "copy a consistent snapshot of the running server into DIR", Arguments("DIR")));
        root.Subcommands.Add(Command("restore", "build a data directory from backup DIR (checked first)", Arguments("DIR"),
            Text("--data-dir", "the data directory to create")));
        root.Subcommands.Add(Command("verify", "check a stopped server's log and say what a start would do", [],
            Text("--data-dir", "the data directory")));
        return root;
    }

    /// <summary>The command's name (null: the shell) and everything given, in the form the commands check.</summary>
    public static (string? Command, ParsedArguments Arguments) Read(ParseResult result)
    {
        var command = result.CommandResult.Command is RootCommand ? null : result.CommandResult.Command.Name;
        var options = new List<(string, string)>();
        var positionals = new List<string>();
        if (command is not null)
        {
            positionals.Add(command);
        }

        foreach (var symbol in result.CommandResult.Children)
        {
            switch (symbol)
            {
                case System.CommandLine.Parsing.ArgumentResult argument:
                    positionals.AddRange(argument.Tokens.Select(token => token.Value));
                    break;
                case System.CommandLine.Parsing.OptionResult option when !option.Implicit:
                    options.Add((option.Option.Name.TrimStart('-'), option.Tokens.Count > 0 ? option.Tokens[0].Value : "true"));
                    break;
            }
        }

        foreach (var global in new Option[] { Server, Hash, Version })
        {
            if (result.GetResult(global) is { Implicit: false } given && options.All(o => o.Item1 != global.Name.TrimStart('-')))
            {
                options.Add((global.Name.TrimStart('-'), given.Tokens.Count > 0 ? given.Tokens[0].Value : "true"));
            }
        }

        return (command, ParsedArguments.From(options, positionals));
    }

    private static Command Command(string name, string description, Argument[] arguments, params Option[] options)
    {
        var command = new Command(name, description);
        foreach (var argument in arguments)
        {
            command.Arguments.Add(argument);
        }

        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        return command;
    }

    private static Argument[] Arguments(params string[] names) => [.. names.Select(Argument)];

    private static Argument<string> Argument(string name) => new(name);

    private static Argument<string> Optional(string name) => new(name) { Arity = ArgumentArity.ZeroOrOne };

    private static Option<string> Text(string name, string description) => new(name) { Description = description };

    private static Option<bool> Switch(string name, string description) => new(name) { Description = description };
}
