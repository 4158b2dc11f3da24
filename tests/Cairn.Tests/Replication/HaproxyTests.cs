using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Cairn.Tests.Support;

namespace Cairn.Tests.Replication;

/// <summary>The shipped deploy/haproxy.cfg in front of a primary and a replica: writes reach the primary, and follow a failover.</summary>
public sealed class HaproxyTests : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "cairn-haproxy-" + Guid.NewGuid().ToString("N"));

    public HaproxyTests() => Directory.CreateDirectory(_scratch);

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [ExternalToolFact("/usr/sbin/haproxy")]
    public async Task Writes_go_to_the_primary_and_follow_a_manual_failover()
    {
        await using var first = await TestServer.StartAsync(options =>
        {
            options.DataDirectory = Path.Combine(_scratch, "first");
            options.ReplicaOfCommandEnabled = true;
        });
        await using var second = await TestServer.StartAsync(options =>
        {
            options.DataDirectory = Path.Combine(_scratch, "second");
            options.ReplicaOf = $"127.0.0.1:{first.Port}";
            options.ReplicaOfCommandEnabled = true;
        });
        int writes = FreePort(), reads = FreePort();
        var config = (await File.ReadAllTextAsync(Path.Combine(ExternalTool.RepositoryRoot, "deploy", "haproxy.cfg")))
            .Replace("127.0.0.1:11211", $"127.0.0.1:{writes}", StringComparison.Ordinal)
            .Replace("127.0.0.1:11212", $"127.0.0.1:{reads}", StringComparison.Ordinal)
            .Replace("127.0.0.1:9889", $"127.0.0.1:{first.Port}", StringComparison.Ordinal)
            .Replace("127.0.0.1:9890", $"127.0.0.1:{second.Port}", StringComparison.Ordinal)
            .Replace("    server node3 127.0.0.1:9891 check\n", string.Empty, StringComparison.Ordinal);
        var configPath = Path.Combine(_scratch, "haproxy.cfg");
        await File.WriteAllTextAsync(configPath, config);
        using var haproxy = Process.Start(new ProcessStartInfo("/usr/sbin/haproxy", ["-db", "-f", configPath]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        try
        {
            await WaitUntilStoredAsync(writes, "before", "1");
            using (var direct = await first.ConnectAsync())
            {
                await direct.RoundTripAsync("get before\r\n", "VALUE before 0 1\r\n1\r\nEND\r\n");
            }

            // Failover by hand: the replica becomes the primary, the old primary follows it.
            using (var promote = await second.ConnectAsync())
            {
                await promote.RoundTripAsync("replicaof no one\r\n", "OK\r\n");
            }

            using (var demote = await first.ConnectAsync())
            {
                await demote.RoundTripAsync($"replicaof 127.0.0.1 {second.Port}\r\n", "OK\r\n");
            }

            await WaitUntilStoredAsync(writes, "after", "2");
            using var check = await second.ConnectAsync();
            await check.RoundTripAsync("get before after\r\n", "VALUE before 0 1\r\n1\r\nVALUE after 0 1\r\n2\r\nEND\r\n");
        }
        finally
        {
            haproxy.Kill();
            await haproxy.WaitForExitAsync();
        }
    }

    /// <summary>Sets through the write port until it is STORED (haproxy needs a check interval to find the primary); at most 15 s.</summary>
    private static async Task WaitUntilStoredAsync(int port, string key, string value)
    {
        string last = "";
        for (int attempt = 0; attempt < 75; attempt++)
        {
            try
            {
                using var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                await client.SendAsync($"set {key} 0 0 {value.Length}\r\n{value}\r\n");
                var (bytes, _) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(200));
                last = System.Text.Encoding.ASCII.GetString(bytes);
                if (last == "STORED\r\n")
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }

            await Task.Delay(200);
        }

        Assert.Fail($"no write through haproxy was stored; the last reply was '{last}'");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
