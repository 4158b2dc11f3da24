using System.Globalization;
using System.Text;
using Cairn.Cli.Commands;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Interactive;

/// <summary>
/// `cairn` with no command: a prompt that takes friendly commands (`set make Ford`) and raw memcached ones
/// (`set make 0 0 4` followed by the data line), one connection kept open and reopened when it breaks.
/// </summary>
internal sealed class InteractiveShell(ServerAddress server, TextReader input, TextWriter output, TextWriter error)
{
    public const string Prompt = "cairn> ";

    public const string Help = """
        friendly commands:
          set KEY VALUE [--ttl S] [--flags N]   store VALUE (the rest of the line)
          get KEY                               show the value, or (not found)
          delete KEY                            remove the key
          incr KEY [N]                          add N (default 1), show the new value
          stats                                 the server's statistics
          compact                               rewrite the server's log now
        raw memcached commands are sent as typed, for example:
          set KEY FLAGS TTL BYTES [noreply]     then type the data line
          get KEY [KEY...]  gets  touch  decr  flush_all  version  stats GROUP  mg  ms  md  ma  mn
        shell:
          help                                  this list
          history                               the commands typed so far
          exit, quit, Ctrl+D                    leave
        """;

    private static readonly HashSet<string> StorageCommands = ["set", "add", "replace", "append", "prepend", "cas"];
    private static readonly HashSet<string> RetrievalCommands = ["get", "gets", "gat", "gats"];
    private static readonly HashSet<string> MetaCommands = ["mg", "ms", "md", "ma", "mn", "me"];

    private readonly List<string> _history = [];
    private ServerConnection? _connection;

    public IReadOnlyList<string> History => _history;

    public async Task<int> RunAsync()
    {
        await output.WriteLineAsync($"cairn: talking to {server}; `help` lists the commands, `exit` leaves");
        try
        {
            while (true)
            {
                await output.WriteAsync(Prompt);
                await output.FlushAsync();
                var line = await input.ReadLineAsync();
                if (line is null)
                {
                    await output.WriteLineAsync();
                    return ExitCodes.Success;
                }

                line = line.Trim();
                if (line.Length == 0)
                {
                    continue;
                }

                _history.Add(line);
                var tokens = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                switch (tokens[0].ToLowerInvariant())
                {
                    case "exit" or "quit":
                        return ExitCodes.Success;
                    case "help":
                        await output.WriteLineAsync(Help);
                        continue;
                    case "history":
                        for (var i = 0; i < _history.Count; i++)
                        {
                            await output.WriteLineAsync($"{i + 1,4}  {_history[i]}");
                        }

                        continue;
                }

                await ExecuteAsync(line, tokens);
            }
        }
        finally
        {
            _connection?.Dispose();
        }
    }

    private async Task ExecuteAsync(string line, string[] tokens)
    {
        try
        {
            var connection = await ConnectionAsync();
            if (!await TryFriendlyAsync(connection, tokens))
            {
                await RawAsync(connection, line, tokens);
            }
        }
        catch (UsageException usage)
        {
            await error.WriteLineAsync(usage.Message);
        }
        catch (ServerUnreachableException unreachable)
        {
            await error.WriteLineAsync($"(error) {unreachable.Message}");
            DropConnection();
        }
        catch (ServerReplyException reply)
        {
            await output.WriteLineAsync(reply.Reply);

            // After an error the server may still owe replies (a rejected data line); start afresh rather than misread them.
            DropConnection();
        }
    }

    private async Task<ServerConnection> ConnectionAsync()
    {
        if (_connection is { HasUnreadBytes: true })
        {
            // Replies nobody waited for (a noreply command that failed): the stream is out of step.
            DropConnection();
        }

        return _connection ??= await ServerConnection.ConnectAsync(server);
    }

    private void DropConnection()
    {
        _connection?.Dispose();
        _connection = null;
    }

    private async Task<bool> TryFriendlyAsync(ServerConnection connection, string[] tokens)
    {
        var operations = new CacheOperations(connection);
        switch (tokens[0].ToLowerInvariant())
        {
            case "set" when !IsRawStorage(tokens):
                {
                    var parsed = ParsedArguments.Parse(tokens.Skip(1));
                    parsed.AllowOnly("set", "ttl", "flags");
                    if (parsed.Positionals.Count < 2)
                    {
                        throw new UsageException("usage: set KEY VALUE [--ttl S] [--flags N]");
                    }

                    var value = string.Join(' ', parsed.Positionals.Skip(1));
                    var ttl = parsed.GetInt64("ttl", 0, int.MinValue, int.MaxValue);
                    var flags = (uint)parsed.GetInt64("flags", 0, 0, uint.MaxValue);
                    var stored = await operations.SetAsync(parsed.Positionals[0], Encoding.UTF8.GetBytes(value), flags, ttl);
                    await output.WriteLineAsync(stored ? "STORED" : "NOT_STORED");
                    return true;
                }

            case "get" when tokens.Length == 2:
                {
                    var value = await operations.GetAsync(tokens[1]);
                    await output.WriteLineAsync(value is null ? "(not found)" : Encoding.UTF8.GetString(value));
                    return true;
                }

            case "delete" when tokens.Length == 2:
                await output.WriteLineAsync(await operations.DeleteAsync(tokens[1]) ? "DELETED" : "(not found)");
                return true;

            case "incr" when tokens.Length is 2 or 3:
                {
                    var delta = OneShotCommands.ParseDelta(tokens.Length == 3 ? tokens[2] : "1");
                    await output.WriteLineAsync(await operations.IncrementAsync(tokens[1], delta) ?? "(not found)");
                    return true;
                }

            case "compact" when tokens.Length == 1:
                await operations.CompactAsync();
                await output.WriteLineAsync("OK");
                return true;

            case "stats" when tokens.Length == 1:
                foreach (var (name, value) in await operations.StatsAsync(null))
                {
                    await output.WriteLineAsync($"{name} {value}");
                }

                return true;

            default:
                return false;
        }
    }

    /// <summary>`set KEY FLAGS TTL BYTES [noreply]` is the memcached form; anything else is the friendly one.</summary>
    private static bool IsRawStorage(string[] tokens) =>
        tokens.Length is 5 or 6
        && tokens[2..5].All(t => long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
        && (tokens.Length == 5 || tokens[5] == "noreply");

    private async Task RawAsync(ServerConnection connection, string line, string[] tokens)
    {
        var name = tokens[0].ToLowerInvariant();
        var request = new StringBuilder(line).Append("\r\n");
        if (StorageCommands.Contains(name) || name == "ms")
        {
            // Storage commands carry a data line: the next line typed, sent as is.
            var data = await input.ReadLineAsync() ?? throw new UsageException("the data line is missing");
            _history.Add(data);

            // The server would wait for the missing bytes (or read the next command as data), as memcached does;
            // at a prompt that looks like a hang, so say what is wrong and send nothing.
            int sizeAt = name == "ms" ? 2 : 4;
            if (tokens.Length > sizeAt && int.TryParse(tokens[sizeAt], NumberStyles.None, CultureInfo.InvariantCulture, out int declared)
                && Encoding.UTF8.GetByteCount(data) != declared)
            {
                await output.WriteLineAsync($"not sent: the data line has {Encoding.UTF8.GetByteCount(data)} bytes but the command declares {declared}; type the command again with the right size");
                return;
            }

            request.Append(data).Append("\r\n");
        }

        var isMeta = MetaCommands.Contains(name);
        var quiet = isMeta && name != "mn" && tokens.Skip(2).Any(flag => flag.StartsWith('q'));
        if (quiet)
        {
            // A quiet meta command answers only on failure; mn marks where its answers end.
            request.Append("mn\r\n");
        }

        await connection.SendAsync(request.ToString());
        if (!isMeta && tokens.Length > 1 && tokens[^1] == "noreply")
        {
            await output.WriteLineAsync("(sent; noreply)");
            return;
        }

        if (RetrievalCommands.Contains(name))
        {
            await PrintUntilAsync(connection, reply => reply.StartsWith("VALUE ", StringComparison.Ordinal), 3);
        }
        else if (name == "stats")
        {
            await PrintUntilAsync(connection, reply => reply.StartsWith("STAT ", StringComparison.Ordinal) || reply.StartsWith("ITEM ", StringComparison.Ordinal), -1);
        }
        else if (quiet)
        {
            while (await PrintMetaReplyAsync(connection) != "MN")
            {
            }
        }
        else if (isMeta)
        {
            await PrintMetaReplyAsync(connection);
        }
        else
        {
            var reply = await connection.ReadLineAsync();
            await PrintReplyAsync(reply);
        }
    }

    /// <summary>Prints lines while they continue the reply; <paramref name="sizeToken"/> names the token holding a data block's size.</summary>
    private async Task PrintUntilAsync(ServerConnection connection, Func<string, bool> continues, int sizeToken)
    {
        while (true)
        {
            var reply = await connection.ReadLineAsync();
            if (!continues(reply))
            {
                await PrintReplyAsync(reply);
                return;
            }

            await output.WriteLineAsync(reply);
            if (sizeToken >= 0)
            {
                await PrintBlockAsync(connection, reply.Split(' ')[sizeToken], reply);
            }
        }
    }

    private async Task<string> PrintMetaReplyAsync(ServerConnection connection)
    {
        var reply = await connection.ReadLineAsync();
        await PrintReplyAsync(reply);
        if (reply.StartsWith("VA ", StringComparison.Ordinal))
        {
            await PrintBlockAsync(connection, reply.Split(' ')[1], reply);
        }

        return reply;
    }

    private async Task PrintBlockAsync(ServerConnection connection, string size, string header)
    {
        if (!int.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            throw new ServerReplyException($"unreadable reply: {header}");
        }

        await output.WriteLineAsync(Encoding.UTF8.GetString(await connection.ReadBlockAsync(length)));
    }

    private async Task PrintReplyAsync(string reply)
    {
        if (reply == "ERROR" || reply.StartsWith("ERROR ", StringComparison.Ordinal)
            || reply.StartsWith("CLIENT_ERROR", StringComparison.Ordinal) || reply.StartsWith("SERVER_ERROR", StringComparison.Ordinal))
        {
            throw new ServerReplyException(reply);
        }

        await output.WriteLineAsync(reply);
    }
}
