using System.Diagnostics;
using Cairn.Tests.Replication;
using Cairn.Tests.Support;

namespace Cairn.Tests.Compat;

/// <summary>
/// The shipped deploy/replicated-shards: nutcracker over three shards, each a primary and a replica behind one
/// haproxy address that follows the primary. Killing a shard's primary with SIGKILL and promoting its replica loses
/// no acknowledged write and leaves every key where it was, since nutcracker's view of the shard never changes.
/// </summary>
public sealed class ReplicatedShardsTests : IDisposable
{
    private const int Keys = 300;
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "cairn-shards-" + Guid.NewGuid().ToString("N"));
    private readonly List<ChildServer> _nodes = [];
    private readonly List<Process> _proxies = [];

    public ReplicatedShardsTests() => Directory.CreateDirectory(_scratch);

    public void Dispose()
    {
        foreach (var proxy in _proxies)
        {
            proxy.Kill();
            proxy.WaitForExit();
            proxy.Dispose();
        }

        _nodes.ForEach(n => n.Dispose());
        Directory.Delete(_scratch, recursive: true);
    }

    [ExternalToolFact("/usr/sbin/nutcracker", "/usr/sbin/haproxy")]
    public async Task A_shard_that_loses_its_primary_keeps_every_acknowledged_key_behind_the_same_proxy_address()
    {
        var deploy = Path.Combine(ExternalTool.RepositoryRoot, "deploy", "replicated-shards");
        var haproxyConfig = await File.ReadAllTextAsync(Path.Combine(deploy, "haproxy.cfg"));
        var nutcrackerConfig = await File.ReadAllTextAsync(Path.Combine(deploy, "nutcracker.yml"));
        var primaries = new ChildServer[3];
        var replicas = new ChildServer[3];
        for (var shard = 0; shard < 3; shard++)
        {
            // The shipped files name ports 99S1/99S2 for shard S's nodes and 1131S for its address.
            int primaryPort = EtcdProcess.FreePort(), replicaPort = EtcdProcess.FreePort(), shardPort = EtcdProcess.FreePort();
            primaries[shard] = await StartNodeAsync(primaryPort, $"s{shard}p", "--sync-replicas", "1", "--sync-timeout", "5000");
            replicas[shard] = await StartNodeAsync(replicaPort, $"s{shard}r", "--replica-of", $"127.0.0.1:{primaryPort}");
            haproxyConfig = haproxyConfig
                .Replace($"127.0.0.1:99{shard}1 ", $"127.0.0.1:{primaryPort} ", StringComparison.Ordinal)
                .Replace($"127.0.0.1:99{shard}2 ", $"127.0.0.1:{replicaPort} ", StringComparison.Ordinal)
                .Replace($"127.0.0.1:1131{shard + 1}\n", $"127.0.0.1:{shardPort}\n", StringComparison.Ordinal);
            nutcrackerConfig = nutcrackerConfig.Replace($"127.0.0.1:1131{shard + 1}:1", $"127.0.0.1:{shardPort}:1", StringComparison.Ordinal);
        }

        Assert.DoesNotContain("127.0.0.1:99", haproxyConfig, StringComparison.Ordinal);
        var listen = EtcdProcess.FreePort();
        nutcrackerConfig = nutcrackerConfig.Replace("127.0.0.1:22122", $"127.0.0.1:{listen}", StringComparison.Ordinal);
        await StartProxyAsync("/usr/sbin/haproxy", "haproxy.cfg", haproxyConfig, path => ["-db", "-f", path]);
        await StartProxyAsync("/usr/sbin/nutcracker", "nutcracker.yml", nutcrackerConfig, path => ["-c", path, "-s", EtcdProcess.FreePort().ToString(), "-a", "127.0.0.1"]);

        // haproxy needs a check interval to find each shard's primary.
        await RetryUntilAsync(async () => await StoreAllAsync(listen, "before") == Keys);

        // Which shard lost its primary matters not; shard 0 holds a third of the keys.
        await primaries[0].KillHardAsync();
        using (var promote = await LineConnection.OpenAsync(replicas[0].Port))
        {
            await promote.SendAsync("replicaof no one\r\n");
            Assert.Equal("OK", await promote.ReadLineAsync());
        }

        var found = 0;
        await RetryUntilAsync(async () =>
        {
            using var client = await LineConnection.OpenAsync(listen);
            var values = await client.GetsAsync([.. Enumerable.Range(0, Keys).Select(i => $"shard:{i}")]);
            found = values.Count(v => v.Value.Value == $"before{v.Key[6..]}");
            return found == Keys;
        });
        Assert.Equal(Keys, found);

        var afterStored = 0;
        await RetryUntilAsync(async () => (afterStored = await StoreAllAsync(listen, "after")) == Keys);
        using var promoted = await LineConnection.OpenAsync(replicas[0].Port);
        var onPromoted = await promoted.GetsAsync([.. Enumerable.Range(0, Keys).Select(i => $"shard:{i}")]);
        Assert.InRange(onPromoted.Count, Keys / 6, Keys / 2);
        Assert.All(onPromoted, v => Assert.StartsWith("after", v.Value.Value, StringComparison.Ordinal));
    }

    private async Task<ChildServer> StartNodeAsync(int port, string name, params string[] extra)
    {
        var node = await ChildServer.StartAsync(["-p", port.ToString(), "--data-dir", Path.Combine(_scratch, name), "--enable-replicaof", .. extra]);
        _nodes.Add(node);
        return node;
    }

    private async Task StartProxyAsync(string program, string fileName, string config, Func<string, string[]> arguments)
    {
        var path = Path.Combine(_scratch, fileName);
        await File.WriteAllTextAsync(path, config);
        _proxies.Add(Process.Start(new ProcessStartInfo(program, arguments(path)) { RedirectStandardError = true, RedirectStandardOutput = true })!);
    }

    /// <summary>Sets every key through nutcracker; returns how many were STORED (a refused or failed one stops the round).</summary>
    private static async Task<int> StoreAllAsync(int port, string prefix)
    {
        using var client = await LineConnection.OpenAsync(port);
        for (var i = 0; i < Keys; i++)
        {
            var value = $"{prefix}{i}";
            await client.SendAsync($"set shard:{i} 0 0 {value.Length}\r\n{value}\r\n");
            if (await client.ReadLineAsync() != "STORED")
            {
                return i;
            }
        }

        return Keys;
    }

    /// <summary>Up to 20 s: a failover is seen by haproxy within its 1 s check, and by nutcracker on its next connect.</summary>
    private static async Task RetryUntilAsync(Func<Task<bool>> attempt)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                if (await attempt())
                {
                    return;
                }
            }
            catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
            {
            }

            await Task.Delay(200);
        }
    }
}
