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
    /// <summary>What `cairn --help` says above the commands and options System.CommandLine lists.</summary>
    public const string Description = """
        cairn: talk to a Cairn (or memcached) server. With no command, an interactive shell (type `help` there).

        exit codes: 0 ok, 1 not found / not stored, 2 usage error, 3 server unreachable, 4 server error reply,
                    5 reshard left keys on a wrong node, 6 a backup or data directory is damaged,
                    7 verify: a start would repair first, 130 interrupted
        """;

    public static async Task<int> RunAsync(
        string[] args, TextReader input, TextWriter output, TextWriter error, CancellationToken cancellation = default)
    {
        try
        {
            var syntax = CliSyntax.Build(Description).Parse(args);
            if (syntax.Action is System.CommandLine.Help.HelpAction)
            {
                return await syntax.InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error }, cancellation);
            }

            if (syntax.Errors.Count > 0)
            {
                throw new UsageException(syntax.Errors[0].Message);
            }

            var (command, parsed) = CliSyntax.Read(syntax);
            if (parsed.Has("version"))
            {
                await output.WriteLineAsync("cairn " + Assembly.GetExecutingAssembly().GetName().Version?.ToString(3));
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
