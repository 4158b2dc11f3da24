using Cairn.Cli.Commands;
using Cairn.Cli.Connection;
using Cairn.Client;

namespace Cairn.Cli.Reshard;

/// <summary>`cairn reshard`'s command line, checked before any node is contacted.</summary>
internal sealed record ReshardOptions(
    IReadOnlyList<KetamaServer> From,
    IReadOnlyList<KetamaServer> To,
    KetamaMode Mode,
    int BatchSize,
    bool DryRun)
{
    /// <summary>What `cairn reshard --help` says above the options System.CommandLine lists.</summary>
    public const string Description = """
        Moves every item whose ketama owner differs between two server lists (HOST[:PORT[:WEIGHT]],..., a port
        left out is 9889) to its new owner, then deletes it from the old one, and ends by checking that every key
        sits where the new list places it. Point clients at the new list first; then a write to a moving key lands
        on its new owner and the move never overwrites it. Safe to interrupt (Ctrl-C) or kill and run again: an
        item is deleted from its old owner only after its new owner has acknowledged the copy.

        exit codes: 0 done and verified, 2 usage error, 3 a node unreachable (nothing deleted), 4 a node
        refused a command, 5 finished with keys still on a wrong node (run again), 130 interrupted
        """;

    public static ReshardOptions Parse(ParsedArguments parsed)
    {
        if (parsed.Has("server"))
        {
            throw new UsageException("'reshard' takes --from and --to, not --server");
        }

        if (parsed.Positionals.Count > 1)
        {
            throw new UsageException($"unexpected argument '{parsed.Positionals[1]}'");
        }

        var mode = ServerList.ParseHash(parsed);
        var from = ServerList.Parse("from", parsed.Get("from") ?? throw new UsageException("reshard needs --from HOST:PORT[:WEIGHT],..."));
        var to = ServerList.Parse("to", parsed.Get("to") ?? throw new UsageException("reshard needs --to HOST:PORT[:WEIGHT],..."));
        ServerList.CheckWeights(mode, from.Concat(to));
        foreach (var server in to)
        {
            if (from.FirstOrDefault(f => f.Address == server.Address) is { Host: not null } old && old.Weight != server.Weight)
            {
                throw new UsageException(
                    $"{server.Address} has weight {old.Weight} in --from and {server.Weight} in --to; a node keeps its weight "
                    + "across a reshard (change weights as a reshard of its own, from the old weights to the new)");
            }
        }

        return new ReshardOptions(from, to, mode, parsed.GetInt32("batch", 100, 1, 10_000), parsed.Has("dry-run"));
    }

    /// <summary>Every node either list names, each once, in first-seen order.</summary>
    public IReadOnlyList<KetamaServer> AllNodes =>
        From.Concat(To).DistinctBy(s => s.Address).ToArray();
}
