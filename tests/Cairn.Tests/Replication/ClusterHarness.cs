using System.Net;
using System.Net.Sockets;
using System.Text;
using Cairn.Tests.Support;

namespace Cairn.Tests.Replication;

/// <summary>
/// Three (or more) cairn-server processes on fixed loopback ports, coordinated through one etcd, each with its own data
/// directory; nodes can be killed with SIGKILL and restarted on their data. Only processes it started are stopped.
/// </summary>
public sealed class ClusterHarness : IAsyncDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cairn-cluster-" + Guid.NewGuid().ToString("N"));
    private readonly string[] _extraArguments;

    private ClusterHarness(EtcdProcess etcd, int nodes, string[] extraArguments)
    {
        Etcd = etcd;
        _extraArguments = extraArguments;
        Ports = [.. Enumerable.Range(0, nodes).Select(_ => EtcdProcess.FreePort())];
        Nodes = new ChildServer?[nodes];
    }

    public EtcdProcess Etcd { get; }

    public int[] Ports { get; }

    public ChildServer?[] Nodes { get; }

    public const int LeaseTtlSeconds = 2;

    public static async Task<ClusterHarness> StartAsync(int nodes, params string[] extraArguments)
    {
        var cluster = new ClusterHarness(await EtcdProcess.StartAsync(), nodes, extraArguments);
        for (int i = 0; i < nodes; i++)
        {
            await cluster.StartNodeAsync(i);
        }

        return cluster;
    }

    public string DataDirectory(int node) => Path.Combine(_root, $"n{node}");

    public async Task StartNodeAsync(int node)
    {
        Nodes[node] = await ChildServer.StartAsync([
            "-p", Ports[node].ToString(), "--data-dir", DataDirectory(node),
            "--etcd", Etcd.Url, "--cluster", "test", "--node-id", $"n{node}", "--advertise", $"127.0.0.1:{Ports[node]}",
            "--lease-ttl", LeaseTtlSeconds.ToString(), .. _extraArguments]);
    }

    public async Task KillAsync(int node)
    {
        await Nodes[node]!.KillHardAsync();
        Nodes[node]!.Dispose();
        Nodes[node] = null;
    }

    /// <summary>The node that says it is primary and holds its lease, or -1.</summary>
    public async Task<int> FindPrimaryAsync()
    {
        for (int i = 0; i < Nodes.Length; i++)
        {
            if (Nodes[i] is not null && await StatsAsync(i) is { } stats && stats.GetValueOrDefault("role") == "primary" && stats.GetValueOrDefault("etcd_lease_held") == "yes")
            {
                return i;
            }
        }

        return -1;
    }

    public async Task<int> WaitForPrimaryAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            var primary = await FindPrimaryAsync();
            if (primary >= 0)
            {
                return primary;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("no primary within " + within + "\n" + Logs());
    }

    /// <summary>"stats replication" of one node, or null when it does not answer.</summary>
    public async Task<Dictionary<string, string>?> StatsAsync(int node)
    {
        try
        {
            using var connection = await LineConnection.OpenAsync(Ports[node]);
            return await connection.StatsAsync("replication");
        }
        catch (Exception error) when (error is IOException or SocketException or TimeoutException or OperationCanceledException)
        {
            return null;
        }
    }

    public string Logs() => string.Join('\n', Nodes.Select((n, i) => n is null ? $"n{i}: down" : $"n{i}:\n  " + string.Join("\n  ", n.ErrorLines().TakeLast(40))));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            node?.Dispose();
        }

        Etcd.Dispose();
        await Task.Yield();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}

/// <summary>A line-oriented text client for long runs: buffered, every operation bounded in time.</summary>
public sealed class LineConnection : IDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private LineConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
        _stream.ReadTimeout = 10_000;
        _stream.WriteTimeout = 10_000;
        _reader = new StreamReader(_stream, Encoding.Latin1);
    }

    public static async Task<LineConnection> OpenAsync(int port)
    {
        var client = new TcpClient { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        return new LineConnection(client);
    }

    public async Task SendAsync(string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _stream.WriteAsync(Encoding.Latin1.GetBytes(text), timeout.Token);
    }

    public async Task<string> ReadLineAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await _reader.ReadLineAsync(timeout.Token) ?? throw new IOException("the server closed the connection");
    }

    public async Task<Dictionary<string, string>> StatsAsync(string group)
    {
        await SendAsync($"stats {group}\r\n");
        var stats = new Dictionary<string, string>();
        for (var line = await ReadLineAsync(); line != "END"; line = await ReadLineAsync())
        {
            var parts = line.Split(' ', 3);
            if (parts.Length < 2 || parts[0] != "STAT")
            {
                throw new IOException("unexpected stats line: " + line);
            }

            stats[parts[1]] = parts.Length > 2 ? parts[2] : "";
        }

        return stats;
    }

    /// <summary>Values of <paramref name="keys"/> present on the node (one multi-get).</summary>
    public async Task<Dictionary<string, (string Value, ulong Cas)>> GetsAsync(IReadOnlyCollection<string> keys)
    {
        await SendAsync("gets " + string.Join(' ', keys) + "\r\n");
        var found = new Dictionary<string, (string, ulong)>();
        for (var line = await ReadLineAsync(); line != "END"; line = await ReadLineAsync())
        {
            var parts = line.Split(' ');
            if (parts is not ["VALUE", var key, _, _, var cas])
            {
                throw new IOException("unexpected gets line: " + line);
            }

            found[key] = (await ReadLineAsync(), ulong.Parse(cas));
        }

        return found;
    }

    public void Dispose()
    {
        _reader.Dispose();
        _client.Dispose();
    }
}
