using Cairn.Cli.Commands;
using Cairn.Client;

namespace Cairn.Cli.Connection;

/// <summary>
/// A comma-separated server list as nutcracker.yml's <c>servers:</c> and pylibmc write it, and the ketama placement
/// over it: one parser for `--server a,b,c` and `cairn reshard --from/--to`.
/// </summary>
internal static class ServerList
{
    public const int DefaultPort = 9889;

    public static IReadOnlyList<KetamaServer> Parse(string option, string text)
    {
        var servers = new List<KetamaServer>();
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (item.Length == 0)
            {
                throw new UsageException($"--{option} '{text}' has an empty entry");
            }

            KetamaServer server;
            try
            {
                server = KetamaServer.Parse(item, DefaultPort);
            }
            catch (FormatException error)
            {
                throw new UsageException($"--{option}: {error.Message}");
            }

            if (servers.Any(s => s.Address == server.Address))
            {
                throw new UsageException($"--{option} names {server.Address} twice");
            }

            servers.Add(server);
        }

        return servers;
    }

    /// <summary>`--hash md5` (the default: nutcracker's ketama, libmemcached's ketama_weighted) or `one-at-a-time`.</summary>
    public static KetamaMode ParseHash(ParsedArguments parsed) => parsed.Get("hash") switch
    {
        null or "md5" => KetamaMode.KetamaWeighted,
        "one-at-a-time" => KetamaMode.Ketama,
        var other => throw new UsageException($"--hash must be md5 or one-at-a-time, not '{other}'"),
    };

    /// <summary>Refuses weights where libmemcached's one-at-a-time ketama would silently ignore them.</summary>
    public static void CheckWeights(KetamaMode mode, IEnumerable<KetamaServer> servers)
    {
        if (mode == KetamaMode.Ketama && servers.Any(s => s.Weight != 1))
        {
            throw new UsageException("--hash one-at-a-time ignores weights, as libmemcached does: drop them or use --hash md5");
        }
    }

    public static ServerAddress Address(KetamaServer server) => new(server.Host, server.Port);
}

/// <summary>
/// Where a one-shot command goes: the one `--server`, or, given a list, the node ketama places the key on, so
/// `cairn get` finds what nutcracker or pylibmc stored with the same list.
/// </summary>
internal sealed class ServerSelection
{
    private readonly IReadOnlyList<KetamaServer> _servers;
    private readonly KetamaRing _ring;

    private ServerSelection(IReadOnlyList<KetamaServer> servers, KetamaMode mode)
    {
        _servers = servers;
        _ring = KetamaRing.Create(servers, mode);
    }

    public static ServerSelection From(ParsedArguments parsed)
    {
        var text = parsed.Get("server") ?? ServerAddress.Default;
        if (!text.Contains(',', StringComparison.Ordinal))
        {
            if (parsed.Has("hash"))
            {
                throw new UsageException("--hash places keys over a server list: give --server host:port,host:port,...");
            }

            var single = ServerAddress.Parse(text);
            return new ServerSelection([new KetamaServer(single.Host, single.Port)], KetamaMode.Ketama);
        }

        var mode = ServerList.ParseHash(parsed);
        var servers = ServerList.Parse("server", text);
        ServerList.CheckWeights(mode, servers);
        return new ServerSelection(servers, mode);
    }

    /// <summary>The server, for a command that talks to one (stats, compact, the shell, bench).</summary>
    public ServerAddress Single(string command) => _servers.Count == 1
        ? ServerList.Address(_servers[0])
        : throw new UsageException($"'{command}' talks to one server: give --server one host:port");

    public ServerAddress ForKey(string key) =>
        ServerList.Address(_servers[_ring.GetServer(System.Text.Encoding.UTF8.GetBytes(key))]);
}
