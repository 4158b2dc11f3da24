using System.Globalization;
using System.Text;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Commands;

/// <summary>`cairn get|set|delete|incr|stats|compact`: one request, a plain answer, an exit code scripts can use.</summary>
internal static class OneShotCommands
{
    public static async Task<int> RunAsync(
        string command, ParsedArguments parsed, ServerSelection servers, TextReader input, TextWriter output, TextWriter error)
    {
        var arguments = parsed.Positionals.Skip(1).ToArray();
        switch (command)
        {
            case "get":
                {
                    parsed.AllowOnly(command, "hash");
                    var key = Single(command, arguments, "KEY");
                    CacheOperations.ValidateKey(key);
                    using var connection = await ServerConnection.ConnectAsync(servers.ForKey(key));
                    var value = await new CacheOperations(connection).GetAsync(key);
                    if (value is null)
                    {
                        await error.WriteLineAsync("(not found)");
                        return ExitCodes.NotFound;
                    }

                    await output.WriteLineAsync(Encoding.UTF8.GetString(value));
                    return ExitCodes.Success;
                }

            case "set":
                {
                    parsed.AllowOnly(command, "ttl", "flags", "hash");
                    if (arguments.Length != 2)
                    {
                        throw new UsageException("usage: cairn set KEY VALUE [--ttl S] [--flags N] (VALUE - reads stdin)");
                    }

                    CacheOperations.ValidateKey(arguments[0]);
                    var ttl = parsed.GetInt64("ttl", 0, int.MinValue, int.MaxValue);
                    var flags = (uint)parsed.GetInt64("flags", 0, 0, uint.MaxValue);
                    var text = arguments[1] == "-" ? await input.ReadToEndAsync() : arguments[1];
                    using var connection = await ServerConnection.ConnectAsync(servers.ForKey(arguments[0]));
                    var stored = await new CacheOperations(connection).SetAsync(arguments[0], Encoding.UTF8.GetBytes(text), flags, ttl);
                    await (stored ? output : error).WriteLineAsync(stored ? "STORED" : "NOT_STORED");
                    return stored ? ExitCodes.Success : ExitCodes.NotFound;
                }

            case "delete":
                {
                    parsed.AllowOnly(command, "hash");
                    var key = Single(command, arguments, "KEY");
                    CacheOperations.ValidateKey(key);
                    using var connection = await ServerConnection.ConnectAsync(servers.ForKey(key));
                    var deleted = await new CacheOperations(connection).DeleteAsync(key);
                    await (deleted ? output : error).WriteLineAsync(deleted ? "DELETED" : "(not found)");
                    return deleted ? ExitCodes.Success : ExitCodes.NotFound;
                }

            case "incr":
                {
                    parsed.AllowOnly(command, "hash");
                    if (arguments.Length is < 1 or > 2)
                    {
                        throw new UsageException("usage: cairn incr KEY [N]");
                    }

                    CacheOperations.ValidateKey(arguments[0]);
                    var delta = ParseDelta(arguments.Length == 2 ? arguments[1] : "1");
                    using var connection = await ServerConnection.ConnectAsync(servers.ForKey(arguments[0]));
                    var value = await new CacheOperations(connection).IncrementAsync(arguments[0], delta);
                    await (value is null ? error : output).WriteLineAsync(value ?? "(not found)");
                    return value is null ? ExitCodes.NotFound : ExitCodes.Success;
                }

            case "stats":
                {
                    parsed.AllowOnly(command);
                    if (arguments.Length > 1)
                    {
                        throw new UsageException("usage: cairn stats [GROUP]");
                    }

                    using var connection = await ServerConnection.ConnectAsync(servers.Single(command));
                    var stats = await new CacheOperations(connection).StatsAsync(arguments.Length == 1 ? arguments[0] : null);
                    foreach (var (name, value) in stats)
                    {
                        await output.WriteLineAsync($"{name} {value}");
                    }

                    return ExitCodes.Success;
                }

            case "compact":
                {
                    parsed.AllowOnly(command);
                    if (arguments.Length != 0)
                    {
                        throw new UsageException("usage: cairn compact");
                    }

                    using var connection = await ServerConnection.ConnectAsync(servers.Single(command));
                    await new CacheOperations(connection).CompactAsync();
                    await output.WriteLineAsync("OK");
                    return ExitCodes.Success;
                }

            default:
                throw new UsageException($"unknown command '{command}'");
        }
    }

    public static ulong ParseDelta(string text) =>
        ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var delta)
            ? delta
            : throw new UsageException($"'{text}' is not a non-negative whole number");

    private static string Single(string command, string[] arguments, string name) =>
        arguments.Length == 1 ? arguments[0] : throw new UsageException($"usage: cairn {command} {name}");
}
