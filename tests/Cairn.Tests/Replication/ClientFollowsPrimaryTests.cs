using Cairn.Client;
using Cairn.Tests.Support;

namespace Cairn.Tests.Replication;

/// <summary>Cairn.Client given a primary and its replica finds the primary, and finds the new one after a failover.</summary>
public sealed class ClientFollowsPrimaryTests : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "cairn-follow-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_scratch))
        {
            Directory.Delete(_scratch, recursive: true);
        }
    }

    [Fact]
    public async Task Writes_reach_the_primary_and_after_a_failover_the_new_one()
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
        var options = new CairnClientOptions { FollowPrimary = true };
        options.Servers.Clear();

        // The replica first: the client must ask, not assume the first server is the primary.
        options.Servers.Add($"127.0.0.1:{second.Port}");
        options.Servers.Add($"127.0.0.1:{first.Port}");
        await using var client = new CairnClient(options);

        Assert.Equal(CairnStoreResult.Stored, await client.SetAsync("before", "1"));
        using (var replica = await second.ConnectAsync())
        {
            // A manual failover waits for the replica to hold what was acknowledged (replication is asynchronous).
            string seen = "";
            for (int i = 0; i < 100 && seen != "VALUE before 0 1\r\n1\r\nEND\r\n"; i++)
            {
                await replica.SendAsync("get before\r\n");
                seen = System.Text.Encoding.ASCII.GetString((await replica.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(50))).Bytes);
            }

            Assert.Equal("VALUE before 0 1\r\n1\r\nEND\r\n", seen);
        }

        // A failover in the right order: promote the replica, then point the old primary at it.
        using (var promote = await second.ConnectAsync())
        {
            await promote.RoundTripAsync("replicaof no one\r\n", "OK\r\n");
        }

        using (var direct = await first.ConnectAsync())
        {
            await direct.RoundTripAsync("get before\r\n", "VALUE before 0 1\r\n1\r\nEND\r\n");
            await direct.RoundTripAsync($"replicaof 127.0.0.1 {second.Port}\r\n", "OK\r\n");
        }

        // The old primary now refuses the write; the client finds the new primary and retries there once.
        Assert.Equal(CairnStoreResult.Stored, await client.SetAsync("after", "2"));
        Assert.Equal("2", await client.GetStringAsync("after"));
        using var check = await second.ConnectAsync();
        await check.RoundTripAsync("get before after\r\n", "VALUE before 0 1\r\n1\r\nVALUE after 0 1\r\n2\r\nEND\r\n");
    }
}
