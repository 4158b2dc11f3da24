using System.Reflection;
using Cairn.Cli.Bench;
using Cairn.Cli.Commands;
using Cairn.Cli.Connection;
using Cairn.Cli.Interactive;
using Cairn.Cli.Reshard;

namespace Cairn.Cli;

/// <summary>The `cairn` command line; stdin and stdout are parameters so tests can drive it.</summary>
internal static class CliApplication
{
    public const string Usage = """
        usage: cairn [--server host:port] [command]

        With no command, cairn starts an interactive shell (type `help` there).

        commands:
          get KEY                               print the value; exit 1 when not found
          set KEY VALUE [--ttl S] [--flags N]   store VALUE (`-` reads it from stdin); exit 1 when not stored
          delete KEY                            exit 1 when not found
          incr KEY [N]                          add N (default 1) and print the new value
          stats [GROUP]                         print the server's statistics
          compact                               rewrite the server's log now
          bench [options]                       load test (cairn bench --help)
          reshard --from LIST --to LIST         move keys whose ketama owner changes (cairn reshard --help)
          backup DIR                            copy a consistent snapshot of the running server into DIR
          restore DIR --data-dir D              build data directory D from backup DIR (checked first)
          verify --data-dir D                   check a stopped server's log; say what a start would do

        options:
          --server, -s host:port                the server (default 127.0.0.1:9889)
          --server h:p[:w],h:p[:w],...          get/set/delete/incr go to the node ketama places the key on,
                                                as nutcracker (hash: md5) and pylibmc ketama_weighted do
          --hash md5|one-at-a-time              the ketama over a list (default md5; one-at-a-time is
                                                libmemcached ketama, Cairn.Client's default)
          --help, -h                            this text

        exit codes: 0 ok, 1 not found / not stored, 2 usage error, 3 server unreachable, 4 server error reply,
                    5 reshard left keys on a wrong node, 6 a backup or data directory is damaged,
                    7 verify: a start would repair first, 130 interrupted
        """;

    public static async Task<int> RunAsync(
        string[] args, TextReader input, TextWriter output, TextWriter error, CancellationToken cancellation = default)
    {
        try
        {
            var parsed = ParsedArguments.Parse(args);
            var command = parsed.Positionals.Count > 0 ? parsed.Positionals[0] : null;
            if (parsed.Has("version"))
            {
                await output.WriteLineAsync("cairn " + Assembly.GetExecutingAssembly().GetName().Version?.ToString(3));
                return ExitCodes.Success;
            }

            if (parsed.Has("help") || command == "help")
            {
                await output.WriteLineAsync(command switch
                {
                    "bench" => BenchOptions.Usage,
                    "reshard" => ReshardOptions.Usage,
                    _ => Usage,
                });
                return ExitCodes.Success;
            }

            if (command == "reshard")
            {
                return await new ReshardRunner(ReshardOptions.Parse(parsed), output, error).RunAsync(cancellation);
            }

            if (command == "restore")
            {
                return await BackupCommands.RestoreAsync(parsed, output);
            }

            if (command == "verify")
            {
                return await BackupCommands.VerifyAsync(parsed, output, error);
            }

            var servers = ServerSelection.From(parsed);
            if (command == "backup")
            {
                return await BackupCommands.BackupAsync(parsed, servers.Single(command), output, error, cancellation);
            }

            if (command is null)
            {
                parsed.AllowOnly("cairn");
                return await new InteractiveShell(servers.Single("the interactive shell"), input, output, error).RunAsync();
            }

            if (command == "bench")
            {
                parsed.AllowOnly(command, BenchOptions.OptionNames);
                if (parsed.Positionals.Count > 1)
                {
                    throw new UsageException($"unexpected argument '{parsed.Positionals[1]}'");
                }

                var options = BenchOptions.From(parsed, servers.Single(command));
                return await new BenchRunner(options, output, error).RunAsync();
            }

            return await OneShotCommands.RunAsync(command, parsed, servers, input, output, error);
        }
        catch (UsageException usage)
        {
            await error.WriteLineAsync($"cairn: {usage.Message}");
            await error.WriteLineAsync("run `cairn --help` for usage");
            return ExitCodes.Usage;
        }
        catch (ServerUnreachableException unreachable)
        {
            await error.WriteLineAsync($"cairn: {unreachable.Message}");
            return ExitCodes.Unreachable;
        }
        catch (Cairn.Storage.Backup.BackupDamagedException damaged)
        {
            await error.WriteLineAsync($"cairn: refused, nothing was changed: {damaged.Message}");
            return ExitCodes.Damaged;
        }
        catch (ServerReplyException reply)
        {
            await error.WriteLineAsync($"cairn: server replied: {reply.Reply}");
            return ExitCodes.ServerError;
        }
    }
}
