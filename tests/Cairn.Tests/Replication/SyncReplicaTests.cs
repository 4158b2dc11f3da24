using Cairn.Protocol.Binary;
using Cairn.Tests.Binary;
using Cairn.Tests.Support;

namespace Cairn.Tests.Replication;

/// <summary>--sync-replicas: a write is acknowledged only once replicas hold it too, else answered with an error.</summary>
public sealed class SyncReplicaTests : IDisposable
{
    private readonly string _primaryDirectory = Path.Combine(Path.GetTempPath(), "cairn-sync-primary-" + Guid.NewGuid().ToString("N"));
    private readonly List<string> _replicaDirectories = [];

    public void Dispose()
    {
        foreach (var directory in _replicaDirectories.Append(_primaryDirectory))
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Without_a_replica_writes_are_answered_not_enough_replicas_and_reads_in_the_same_batch_are_answered()
    {
        await using var primary = await StartPrimaryAsync(syncReplicas: 1);
        using var client = await primary.ConnectAsync();
        await client.RoundTripAsync(
            "get a\r\nset a 0 0 1\r\n1\r\nget a\r\nms b 1 q\r\n2\r\nmn\r\n",
            "END\r\nSERVER_ERROR not enough replicas\r\nVALUE a 0 1\r\n1\r\nEND\r\nSERVER_ERROR not enough replicas\r\nMN\r\n");

        // Binary: the refused write answers in its own frame; a quiet one speaks up as it would for any error.
        using var binary = await primary.ConnectAsync();
        await binary.SendAsync([
            .. BinaryFrames.Request(BinaryOpcode.SetQ, "q", BinaryFrames.StoreExtras(0), "x", opaque: 3),
            .. BinaryFrames.Request(BinaryOpcode.Noop, opaque: 4),
        ]);
        BinaryFrames.AssertResponse(BinaryFrames.Response(BinaryOpcode.SetQ, 0x84, 3, value: "not enough replicas"), await binary.ReadResponseAsync());
        BinaryFrames.AssertResponse(BinaryFrames.Response(BinaryOpcode.Noop, 0, 4), await binary.ReadResponseAsync());

        var stats = await StatsAsync(client);
        Assert.Equal("1", stats["sync_replicas"]);
        Assert.Equal("0", stats["sync_confirmed_batches"]);
        Assert.Equal("2", stats["sync_unconfirmed_batches"]); // one per batch: the text batch waited once for both its writes
    }

    [Fact]
    public async Task An_acknowledged_write_is_already_on_the_replica_when_the_reply_arrives()
    {
        await using var primary = await StartPrimaryAsync(syncReplicas: 1);
        await using var replica = await StartReplicaAsync(primary.Port);
        using var writer = await primary.ConnectAsync();
        using var reader = await replica.ConnectAsync();
        await WaitForReplicasAsync(writer, 1);
        for (int i = 0; i < 200; i++)
        {
            await writer.RoundTripAsync($"set k{i} 0 0 {i.ToString().Length}\r\n{i}\r\n", "STORED\r\n");

            // No waiting: the reply left the primary only once the replica held the record.
            await reader.RoundTripAsync($"get k{i}\r\n", $"VALUE k{i} 0 {i.ToString().Length}\r\n{i}\r\nEND\r\n");
        }

        var stats = await StatsAsync(writer);
        Assert.Equal("0", stats["sync_unconfirmed_batches"]);
        Assert.Equal("200", stats["sync_confirmed_batches"]);
    }

    [Fact]
    public async Task Two_sync_replicas_need_both_and_writes_resume_when_the_second_returns()
    {
        await using var primary = await StartPrimaryAsync(syncReplicas: 2);
        await using var first = await StartReplicaAsync(primary.Port);
        using var writer = await primary.ConnectAsync();
        await WaitForReplicasAsync(writer, 1);
        await writer.RoundTripAsync("set a 0 0 1\r\n1\r\n", "SERVER_ERROR not enough replicas\r\n");

        var second = await StartReplicaAsync(primary.Port);
        await using (second)
        {
            await WaitForReplicasAsync(writer, 2);
            await writer.RoundTripAsync("set a 0 0 1\r\n2\r\n", "STORED\r\n");
            using var onSecond = await second.ConnectAsync();
            await onSecond.RoundTripAsync("get a\r\n", "VALUE a 0 1\r\n2\r\nEND\r\n");
        }

        // The second replica went away: one is not enough any more.
        await writer.RoundTripAsync("delete a\r\n", "SERVER_ERROR not enough replicas\r\n");
    }

    private Task<TestServer> StartPrimaryAsync(int syncReplicas) => TestServer.StartAsync(options =>
    {
        options.DataDirectory = _primaryDirectory;
        options.SyncReplicas = syncReplicas;
        options.SyncTimeout = TimeSpan.FromMilliseconds(300);
    });

    private Task<TestServer> StartReplicaAsync(int primaryPort)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cairn-sync-replica-" + Guid.NewGuid().ToString("N"));
        _replicaDirectories.Add(directory);
        return TestServer.StartAsync(options =>
        {
            options.DataDirectory = directory;
            options.ReplicaOf = $"127.0.0.1:{primaryPort}";
        });
    }

    /// <summary>A replica counts once it has connected and acknowledged its first position.</summary>
    private static async Task WaitForReplicasAsync(TestClient client, int count)
    {
        for (int i = 0; i < 200; i++)
        {
            var stats = await StatsAsync(client);
            if (stats["connected_replicas"] == count.ToString() &&
                stats.Where(s => s.Key.StartsWith("replica", StringComparison.Ordinal)).All(s => !s.Value.Contains("ack_sequence=-,", StringComparison.Ordinal)))
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"{count} replicas never connected");
    }

    private static Task<Dictionary<string, string>> StatsAsync(TestClient client) => ReplicationTests.StatsAsync(client);
}
