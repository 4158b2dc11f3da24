using System.Diagnostics;
using Cairn.Tests.Replication;
using Cairn.Tests.Support;

namespace Cairn.Tests.Compat;

/// <summary>
/// The shipped deploy/nutcracker.yml (Debian's twemproxy) in front of three cairn-server processes: commands go
/// through, keys spread over the nodes, a killed node fails only its own keys, and after a restart on its data
/// directory every one of them is back.
/// </summary>
public sealed class TwemproxyTests : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "cairn-twemproxy-" + Guid.NewGuid().ToString("N"));
    private readonly ChildServer?[] _nodes = new ChildServer?[3];
    private readonly int[] _ports = [EtcdProcess.FreePort(), EtcdProcess.FreePort(), EtcdProcess.FreePort()];

    public TwemproxyTests() => Directory.CreateDirectory(_scratch);

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node?.Dispose();
        }

        Directory.Delete(_scratch, recursive: true);
    }

    [ExternalToolFact("/usr/sbin/nutcracker")]
    public async Task Keys_spread_over_the_nodes_and_a_killed_node_fails_only_its_own_until_it_returns_with_all_of_them()
    {
        for (int i = 0; i < 3; i++)
        {
            await StartNodeAsync(i);
        }

        var (proxy, listen) = await StartProxyAsync(ejectHosts: false);
        try
        {
            using var client = await ConnectWhenListeningAsync(listen);

            // Every classic command twemproxy forwards.
            Assert.Equal("STORED", await Line(client, "set a 1 0 1\r\nx\r\n"));
            Assert.Equal("NOT_STORED", await Line(client, "add a 0 0 1\r\ny\r\n"));
            Assert.Equal("STORED", await Line(client, "replace a 2 0 1\r\nz\r\n"));
            Assert.Equal("STORED", await Line(client, "append a 0 0 1\r\n+\r\n"));
            Assert.Equal("STORED", await Line(client, "prepend a 0 0 1\r\n-\r\n"));
            await client.SendAsync("gets a\r\n");
            var header = (await client.ReadLineAsync()).Split(' ');
            Assert.Equal(["VALUE", "a", "2", "3"], header[..4]);
            Assert.Equal("-z+", await client.ReadLineAsync());
            Assert.Equal("END", await client.ReadLineAsync());
            Assert.Equal("STORED", await Line(client, $"cas a 3 0 1 {header[4]}\r\nc\r\n"));
            Assert.Equal("STORED", await Line(client, "set n 0 0 1\r\n5\r\n"));
            Assert.Equal("8", await Line(client, "incr n 3\r\n"));
            Assert.Equal("6", await Line(client, "decr n 2\r\n"));
            Assert.Equal("TOUCHED", await Line(client, "touch n 100\r\n"));
            Assert.Equal("DELETED", await Line(client, "delete n\r\n"));

            // 300 keys: each reads back through the proxy, and each lives on exactly one node.
            var keys = Enumerable.Range(0, 300).Select(i => $"key:{i}").ToArray();
            foreach (var key in keys)
            {
                Assert.Equal("STORED", await Line(client, $"set {key} 0 0 {key.Length}\r\n{key}\r\n"));
            }

            var owners = new Dictionary<string, int>();
            for (int node = 0; node < 3; node++)
            {
                using var direct = await LineConnection.OpenAsync(_ports[node]);
                foreach (var held in (await direct.GetsAsync(keys)).Keys)
                {
                    Assert.True(owners.TryAdd(held, node), $"{held} is on two nodes");
                }
            }

            Assert.Equal(keys.Length, owners.Count);
            Assert.All(Enumerable.Range(0, 3), node => Assert.True(owners.Values.Count(o => o == node) > 50, $"node {node} holds too few keys"));
            var multi = await client.GetsAsync(keys[..100]);
            Assert.Equal(100, multi.Count);

            // A node killed with SIGKILL: only its keys fail; the rest keep working.
            await _nodes[1]!.KillHardAsync();
            _nodes[1]!.Dispose();
            _nodes[1] = null;
            foreach (var key in keys)
            {
                using var probe = await LineConnection.OpenAsync(listen);
                await probe.SendAsync($"get {key}\r\n");
                var reply = await probe.ReadLineAsync();
                if (owners[key] == 1)
                {
                    Assert.StartsWith("SERVER_ERROR", reply);
                }
                else
                {
                    Assert.Equal($"VALUE {key} 0 {key.Length}", reply);
                }
            }

            // Back on its data directory: every one of its keys is there again.
            await StartNodeAsync(1);
            await WaitUntilAsync(async () =>
            {
                using var probe = await LineConnection.OpenAsync(listen);
                return (await probe.GetsAsync(keys)).Count == keys.Length;
            });
        }
        finally
        {
            proxy.Kill();
            await proxy.WaitForExitAsync();
            proxy.Dispose();
        }
    }

    /// <summary>
    /// The hazard deploy/nutcracker.yml avoids, measured: with auto_eject_hosts on, writes made while a node is out land
    /// on another node, and once it is back its old values are served again.
    /// </summary>
    [ExternalToolFact("/usr/sbin/nutcracker")]
    public async Task With_ejection_on_keys_written_during_an_outage_read_back_their_old_values_after_it()
    {
        for (int i = 0; i < 3; i++)
        {
            await StartNodeAsync(i);
        }

        var (proxy, listen) = await StartProxyAsync(ejectHosts: true);
        try
        {
            using var client = await ConnectWhenListeningAsync(listen);
            var keys = Enumerable.Range(0, 300).Select(i => $"key:{i}").ToArray();
            foreach (var key in keys)
            {
                Assert.Equal("STORED", await Line(client, $"set {key} 0 0 3\r\nold\r\n"));
            }

            using (var direct = await LineConnection.OpenAsync(_ports[1]))
            {
                keys = [.. (await direct.GetsAsync(keys)).Keys.Order(StringComparer.Ordinal).Take(50)];
            }

            await _nodes[1]!.KillHardAsync();
            _nodes[1]!.Dispose();
            _nodes[1] = null;

            // The proxy ejects the node after its first failure; from then the writes land elsewhere and succeed.
            foreach (var key in keys)
            {
                await WaitUntilAsync(async () =>
                {
                    using var writer = await LineConnection.OpenAsync(listen);
                    return await Line(writer, $"set {key} 0 0 3\r\nnew\r\n") == "STORED";
                });
            }

            await StartNodeAsync(1);
            await WaitUntilAsync(async () =>
            {
                using var probe = await LineConnection.OpenAsync(listen);
                return (await probe.GetsAsync(keys)).Values.All(v => v.Value == "old");
            });
        }
        finally
        {
            proxy.Kill();
            await proxy.WaitForExitAsync();
            proxy.Dispose();
        }
    }

    /// <summary>
    /// twemproxy's ketama over md5 (servers without names) and libmemcached's weighted ketama, which Cairn.Client
    /// implements as <see cref="Cairn.Client.KetamaMode.KetamaWeighted"/>, put every key on the same node.
    /// </summary>
    [ExternalToolTheory("/usr/sbin/nutcracker")]
    [InlineData(1, 1, 1)]
    [InlineData(1, 2, 5)]
    public async Task Keys_land_where_cairn_client_weighted_ketama_places_them(int weight0, int weight1, int weight2)
    {
        for (int i = 0; i < 3; i++)
        {
            await StartNodeAsync(i);
        }

        int[] weights = [weight0, weight1, weight2];
        var (proxy, listen) = await StartProxyAsync(ejectHosts: false, weights);
        try
        {
            using var client = await ConnectWhenListeningAsync(listen);
            var keys = Enumerable.Range(0, 10_000).Select(i => $"placement:{i}").ToArray();
            var load = string.Concat(keys.Select(k => $"set {k} 0 0 1 noreply\r\nx\r\n"));
            await client.SendAsync(load);
            Assert.Equal("VERSION", (await Line(client, "version\r\n")).Split(' ')[0]);
            var owners = new Dictionary<string, int>();
            for (int node = 0; node < 3; node++)
            {
                using var direct = await LineConnection.OpenAsync(_ports[node]);
                foreach (var chunk in keys.Chunk(100))
                {
                    foreach (var held in (await direct.GetsAsync(chunk)).Keys)
                    {
                        owners[held] = node;
                    }
                }
            }

            Assert.Equal(keys.Length, owners.Count);
            var ring = Cairn.Client.KetamaRing.Create(
                [.. _ports.Select((p, i) => new Cairn.Client.KetamaServer("127.0.0.1", p, weights[i]))], Cairn.Client.KetamaMode.KetamaWeighted);
            var misplaced = keys.Where(k => ring.GetServer(System.Text.Encoding.ASCII.GetBytes(k)) != owners[k]).ToList();
            Assert.Empty(misplaced);
        }
        finally
        {
            proxy.Kill();
            await proxy.WaitForExitAsync();
            proxy.Dispose();
        }
    }

    /// <summary>The `cairn` CLI given the same list finds on each node what nutcracker put there, and the reverse.</summary>
    [ExternalToolFact("/usr/sbin/nutcracker")]
    public async Task The_cli_given_the_server_list_reads_and_writes_where_nutcracker_does()
    {
        for (int i = 0; i < 3; i++)
        {
            await StartNodeAsync(i);
        }

        var (proxy, listen) = await StartProxyAsync(ejectHosts: false);
        try
        {
            using var client = await ConnectWhenListeningAsync(listen);
            var list = string.Join(',', _ports.Select(p => $"127.0.0.1:{p}:1"));
            for (var i = 0; i < 100; i++)
            {
                Assert.Equal("STORED", await Line(client, $"set cli:{i} 0 0 2\r\np{i % 10}\r\n"));
                var (code, output, error) = await Cairn.Tests.Cli.CliRun.RunAsync("", "--server", list, "get", $"cli:{i}");
                Assert.True(code == 0, error);
                Assert.Equal($"p{i % 10}\n", output);

                (code, _, error) = await Cairn.Tests.Cli.CliRun.RunAsync("", "--server", list, "set", $"cli:{i}", $"c{i % 10}");
                Assert.True(code == 0, error);
                Assert.Equal($"VALUE cli:{i} 0 2", await Line(client, $"get cli:{i}\r\n"));
                Assert.Equal($"c{i % 10}", await client.ReadLineAsync());
                Assert.Equal("END", await client.ReadLineAsync());
            }
        }
        finally
        {
            proxy.Kill();
            await proxy.WaitForExitAsync();
            proxy.Dispose();
        }
    }

    private async Task<(Process Proxy, int Listen)> StartProxyAsync(bool ejectHosts, int[]? weights = null)
    {
        weights ??= [1, 1, 1];
        int listen = EtcdProcess.FreePort(), stats = EtcdProcess.FreePort();
        var config = (await File.ReadAllTextAsync(Path.Combine(ExternalTool.RepositoryRoot, "deploy", "nutcracker.yml")))
            .Replace("127.0.0.1:22121", $"127.0.0.1:{listen}", StringComparison.Ordinal)
            .Replace("127.0.0.1:11211:1", $"127.0.0.1:{_ports[0]}:{weights[0]}", StringComparison.Ordinal)
            .Replace("127.0.0.1:11212:1", $"127.0.0.1:{_ports[1]}:{weights[1]}", StringComparison.Ordinal)
            .Replace("127.0.0.1:11213:1", $"127.0.0.1:{_ports[2]}:{weights[2]}", StringComparison.Ordinal)
            .Replace("auto_eject_hosts: false", $"auto_eject_hosts: {(ejectHosts ? "true" : "false")}", StringComparison.Ordinal);
        var configPath = Path.Combine(_scratch, "nutcracker.yml");
        await File.WriteAllTextAsync(configPath, config);
        var proxy = Process.Start(new ProcessStartInfo("/usr/sbin/nutcracker", ["-c", configPath, "-s", stats.ToString(), "-a", "127.0.0.1"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        return (proxy, listen);
    }

    private async Task StartNodeAsync(int node) =>
        _nodes[node] = await ChildServer.StartAsync(["-p", _ports[node].ToString(), "--data-dir", Path.Combine(_scratch, $"n{node}")]);

    private static async Task<string> Line(LineConnection client, string request)
    {
        await client.SendAsync(request);
        return await client.ReadLineAsync();
    }

    private static async Task<LineConnection> ConnectWhenListeningAsync(int port)
    {
        for (int i = 0; i < 100; i++)
        {
            try
            {
                return await LineConnection.OpenAsync(port);
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(50);
            }
        }

        throw new TimeoutException($"nutcracker did not listen on {port}");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (int i = 0; i < 200; i++)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException)
            {
            }

            await Task.Delay(50);
        }

        Assert.Fail("the condition did not hold within 10 s");
    }
}
