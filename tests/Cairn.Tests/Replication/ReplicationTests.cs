using Cairn.Tests.Binary;
using Cairn.Tests.Support;

namespace Cairn.Tests.Replication;

/// <summary>Log shipping between two real servers on loopback: partial and full resync, read-only replicas, promotion.</summary>
public sealed class ReplicationTests : IDisposable
{
    private readonly string _primaryDirectory = Path.Combine(Path.GetTempPath(), "cairn-primary-" + Guid.NewGuid().ToString("N"));
    private readonly string _replicaDirectory = Path.Combine(Path.GetTempPath(), "cairn-replica-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        foreach (var directory in new[] { _primaryDirectory, _replicaDirectory })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Writes_on_the_primary_reach_the_replica_which_refuses_writes_of_its_own()
    {
        await using var primary = await StartPrimaryAsync();
        await using var replica = await StartReplicaAsync(primary.Port);
        using var writer = await primary.ConnectAsync();
        await writer.RoundTripAsync("set a 5 0 3\r\none\r\nset b 0 0 3\r\ntwo\r\ndelete b\r\nincr n 1\r\nset n 0 0 1\r\n7\r\nincr n 3\r\n", "STORED\r\nSTORED\r\nDELETED\r\nNOT_FOUND\r\nSTORED\r\n10\r\n");
        await writer.RoundTripAsync("ms stale 3\r\nold\r\nmd stale I\r\n", "HD\r\nHD\r\n");

        using var reader = await replica.ConnectAsync();
        await WaitForAsync(reader, "get a n\r\n", "VALUE a 5 3\r\none\r\nVALUE n 0 2\r\n10\r\nEND\r\n");
        await reader.RoundTripAsync("get b\r\n", "END\r\n");
        await reader.RoundTripAsync("mg stale v\r\n", "VA 3 X W\r\nold\r\n");

        // The same CAS on both: a client may read from either and compare-and-swap against the primary.
        await writer.SendAsync("gets a\r\n");
        var onPrimary = await writer.ReadLineAsync();
        await writer.ExpectAsync("one\r\nEND\r\n");
        await reader.RoundTripAsync("gets a\r\n", onPrimary + "one\r\nEND\r\n");

        await reader.RoundTripAsync("set c 0 0 1\r\nx\r\n", "SERVER_ERROR replica is read-only\r\n");
        await reader.RoundTripAsync("ms c 1\r\nx\r\n", "SERVER_ERROR replica is read-only\r\n");
        await reader.RoundTripAsync("flush_all\r\n", "SERVER_ERROR replica is read-only\r\n");
        await reader.RoundTripAsync("get c\r\n", "END\r\n");
        using (var binary = await replica.ConnectAsync())
        {
            await binary.SendAsync(Cairn.Tests.Binary.BinaryFrames.Request(Cairn.Protocol.Binary.BinaryOpcode.Set, "c", Cairn.Tests.Binary.BinaryFrames.StoreExtras(0), "x", opaque: 7));
            Cairn.Tests.Binary.BinaryFrames.AssertResponse(
                Cairn.Tests.Binary.BinaryFrames.Response(Cairn.Protocol.Binary.BinaryOpcode.Set, 0x05, 7, value: "replica is read-only"),
                await binary.ReadResponseAsync());
        }

        var stats = await StatsAsync(reader);
        Assert.Equal("replica", stats["role"]);
        Assert.Equal("up", stats["primary_link"]);
        var primaryStats = await StatsAsync(writer);
        Assert.Equal("primary", primaryStats["role"]);
        Assert.Equal("1", primaryStats["connected_replicas"]);
        Assert.Equal("1", primaryStats["full_resyncs"]);
    }

    [Fact]
    public async Task A_restarted_replica_resumes_from_its_own_disk_with_a_partial_resync()
    {
        await using var primary = await StartPrimaryAsync();
        using var writer = await primary.ConnectAsync();
        await using (var replica = await StartReplicaAsync(primary.Port))
        {
            await writer.RoundTripAsync("set before 0 0 1\r\nb\r\n", "STORED\r\n");
            using var reader = await replica.ConnectAsync();
            await WaitForAsync(reader, "get before\r\n", "VALUE before 0 1\r\nb\r\nEND\r\n");

            // Let the replica save its position (it does once its log holds what it applied).
            await Task.Delay(300);
        }

        await writer.RoundTripAsync("set during 0 0 1\r\nd\r\ndelete before\r\n", "STORED\r\nDELETED\r\n");
        await using var restarted = await StartReplicaAsync(primary.Port);
        using var check = await restarted.ConnectAsync();
        await WaitForAsync(check, "get during before\r\n", "VALUE during 0 1\r\nd\r\nEND\r\n");
        var primaryStats = await StatsAsync(writer);
        Assert.Equal("1", primaryStats["full_resyncs"]);
        Assert.Equal("1", primaryStats["partial_resyncs"]);
    }

    [Fact]
    public async Task A_replica_behind_a_compaction_gets_a_full_resync_from_the_snapshot()
    {
        await using var primary = await StartPrimaryAsync();
        using var writer = await primary.ConnectAsync();
        await using (var replica = await StartReplicaAsync(primary.Port))
        {
            await writer.RoundTripAsync("set old 0 0 1\r\no\r\n", "STORED\r\n");
            using var reader = await replica.ConnectAsync();
            await WaitForAsync(reader, "get old\r\n", "VALUE old 0 1\r\no\r\nEND\r\n");
            await Task.Delay(300);
        }

        for (int i = 0; i < 50; i++)
        {
            await writer.RoundTripAsync($"set k{i} 0 0 2\r\nv{i % 10}\r\n", "STORED\r\n");
        }

        await writer.RoundTripAsync("delete old\r\ncompact\r\nset after 0 0 1\r\na\r\n", "DELETED\r\nOK\r\nSTORED\r\n");
        await using var restarted = await StartReplicaAsync(primary.Port);
        using var check = await restarted.ConnectAsync();
        await WaitForAsync(check, "get k49 after old\r\n", "VALUE k49 0 2\r\nv9\r\nVALUE after 0 1\r\na\r\nEND\r\n");
        Assert.Equal("2", (await StatsAsync(writer))["full_resyncs"]);
    }

    [Fact]
    public async Task A_replica_stopped_in_the_middle_of_a_full_resync_starts_over_and_ends_complete()
    {
        await using var primary = await StartPrimaryAsync();
        using var writer = await primary.ConnectAsync();
        var value = new string('v', 1000);
        var load = new System.Text.StringBuilder();
        for (int i = 0; i < 20_000; i++)
        {
            load.Append(System.Globalization.CultureInfo.InvariantCulture, $"set k{i} 0 0 {value.Length} noreply\r\n{value}\r\n");
        }

        await writer.RoundTripAsync(load + "set last 0 0 1\r\nx\r\n", "STORED\r\n");
        await using (await StartReplicaAsync(primary.Port))
        {
            // Stopped as soon as it listens, when 20 MB of full resync is almost always still under way (and if it had
            // finished, the restart must still end complete).
        }

        await using var restarted = await StartReplicaAsync(primary.Port);
        using var check = await restarted.ConnectAsync();
        await WaitForAsync(check, "get k0 k19999 last\r\n", $"VALUE k0 0 1000\r\n{value}\r\nVALUE k19999 0 1000\r\n{value}\r\nVALUE last 0 1\r\nx\r\nEND\r\n");
        // The snapshot's items may show before its end frame moves the position: wait for that too.
        var applied = "";
        for (int i = 0; i < 100 && applied != "20001"; i++)
        {
            applied = (await StatsAsync(check))["applied_sequence"];
            await Task.Delay(applied == "20001" ? 0 : 50);
        }

        Assert.Equal("20001", applied);
    }

    [Fact]
    public async Task Replicaof_no_one_promotes_the_replica_which_then_takes_writes()
    {
        await using var primary = await StartPrimaryAsync();
        await using var replica = await StartReplicaAsync(primary.Port, replicaOfEnabled: true);
        using var writer = await primary.ConnectAsync();
        await writer.RoundTripAsync("set k 0 0 1\r\n1\r\n", "STORED\r\n");
        await writer.RoundTripAsync("replicaof no one\r\n", "ERROR: replicaof not enabled\r\n");
        using var client = await replica.ConnectAsync();
        await WaitForAsync(client, "get k\r\n", "VALUE k 0 1\r\n1\r\nEND\r\n");

        await client.RoundTripAsync("replicaof no one\r\n", "OK\r\n");
        await client.RoundTripAsync("set k 0 0 1\r\n2\r\nget k\r\n", "STORED\r\nVALUE k 0 1\r\n2\r\nEND\r\n");
        Assert.Equal("primary", (await StatsAsync(client))["role"]);
    }

    [Fact]
    public async Task A_replicate_request_for_a_position_beyond_the_primary_gets_a_full_resync()
    {
        await using var primary = await StartPrimaryAsync();
        using var writer = await primary.ConnectAsync();
        await writer.RoundTripAsync("set k 0 0 1\r\n1\r\n", "STORED\r\n");
        var id = (await StatsAsync(writer))["replication_id"];
        using var impostor = await primary.ConnectAsync();
        await impostor.SendAsync($"replicate {id} 999999\r\n");
        Assert.Matches($"^FULLRESYNC {id} [0-9]+\r\n$", await impostor.ReadLineAsync());
    }

    [Fact]
    public async Task A_replicate_request_with_an_unknown_replication_id_gets_a_full_resync()
    {
        await using var primary = await StartPrimaryAsync();
        using var writer = await primary.ConnectAsync();
        var id = (await StatsAsync(writer))["replication_id"];
        using var stranger = await primary.ConnectAsync();
        await stranger.SendAsync($"replicate {new string('0', 40)} 1\r\n");
        Assert.Matches($"^FULLRESYNC {id} [0-9]+\r\n$", await stranger.ReadLineAsync());
    }

    [Fact]
    public async Task A_shipped_record_with_a_wrong_crc_is_never_applied_and_the_link_recovers()
    {
        using var fakePrimary = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        fakePrimary.Start();
        var port = ((System.Net.IPEndPoint)fakePrimary.LocalEndpoint).Port;
        await using var replica = await StartReplicaAsync(port);

        // First link: a record whose value was damaged after its CRC was computed.
        using (var first = await fakePrimary.AcceptTcpClientAsync())
        {
            var stream = first.GetStream();
            await ReadLineAsync(stream);
            var damaged = Record(1, "bad", "value");
            damaged[^1] ^= 0x01;
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"CONTINUE {new string('f', 40)}\r\n"));
            await stream.WriteAsync((byte[])[(byte)'L', .. damaged]);
            await ReadToEndAsync(stream);
        }

        // The replica dropped that link without applying anything, and comes back for the same position.
        using var second = await fakePrimary.AcceptTcpClientAsync();
        var again = second.GetStream();
        Assert.Equal($"replicate {new string('f', 40)} 0", await ReadLineAsync(again));
        await again.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"CONTINUE {new string('f', 40)}\r\n"));
        await again.WriteAsync((byte[])[(byte)'L', .. Record(1, "good", "value")]);
        using var reader = await replica.ConnectAsync();
        await WaitForAsync(reader, "get good bad\r\n", "VALUE good 0 5\r\nvalue\r\nEND\r\n");
    }

    private static byte[] Record(ulong sequence, string key, string value)
    {
        var keyBytes = System.Text.Encoding.ASCII.GetBytes(key);
        var valueBytes = System.Text.Encoding.ASCII.GetBytes(value);
        var record = new byte[Cairn.Storage.Log.LogRecordCodec.SetLength(keyBytes.Length, valueBytes.Length)];
        Cairn.Storage.Log.LogRecordCodec.WriteSet(record, sequence, keyBytes, valueBytes, 0, 0, 100, 1_800_000_000);
        Cairn.Storage.Log.LogRecordCodec.SealAll(record);
        return record;
    }

    private static async Task<string> ReadLineAsync(System.Net.Sockets.NetworkStream stream)
    {
        var line = new List<byte>();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await stream.ReadAsync(one, timeout.Token) == 1 && one[0] != (byte)'\n')
        {
            line.Add(one[0]);
        }

        return System.Text.Encoding.ASCII.GetString([.. line]).TrimEnd('\r');
    }

    private static async Task ReadToEndAsync(System.Net.Sockets.NetworkStream stream)
    {
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await stream.ReadAsync(buffer, timeout.Token) > 0)
        {
        }
    }

    [Fact]
    public async Task A_replica_does_not_serve_replicate_so_two_nodes_cannot_follow_each_other()
    {
        await using var primary = await StartPrimaryAsync();
        await using var replica = await StartReplicaAsync(primary.Port);
        using var other = await replica.ConnectAsync();
        await other.RoundTripAsync("replicate - 0\r\n", "SERVER_ERROR this node is a replica; replicate from its primary\r\n");
    }

    [Fact]
    public async Task A_replica_with_less_memory_keeps_the_rest_of_the_values_on_disk_and_serves_them_all()
    {
        await using var primary = await StartPrimaryAsync();
        await using var replica = await TestServer.StartAsync(options =>
        {
            options.DataDirectory = _replicaDirectory;
            options.ReplicaOf = $"127.0.0.1:{primary.Port}";
            options.MemoryLimitBytes = 1024 * 1024;
        });
        using var writer = await primary.ConnectAsync();
        const int Keys = 3000;
        static string ValueOf(int i) => string.Concat(Enumerable.Repeat($"replicated-{i}-", 100))[..1000];
        for (int start = 0; start < Keys; start += 100)
        {
            var batch = new System.Text.StringBuilder();
            for (int i = start; i < start + 100; i++)
            {
                batch.Append(System.Globalization.CultureInfo.InvariantCulture, $"set k{i} {i} 0 1000\r\n{ValueOf(i)}\r\n");
            }

            await writer.RoundTripAsync(batch.ToString(), string.Concat(Enumerable.Repeat("STORED\r\n", 100)));
        }

        // The replica applies each record after logging it, so the values it cannot hold are read back from its own log.
        using var reader = await replica.ConnectAsync();
        await WaitForAsync(reader, $"get k{Keys - 1}\r\n", $"VALUE k{Keys - 1} {Keys - 1} 1000\r\n{ValueOf(Keys - 1)}\r\nEND\r\n");
        Assert.True(long.Parse((await StatsAsync(reader, "stats"))["items_on_disk_only"], System.Globalization.CultureInfo.InvariantCulture) > Keys / 2);
        for (int i = 0; i < Keys; i++)
        {
            await reader.RoundTripAsync($"get k{i}\r\n", $"VALUE k{i} {i} 1000\r\n{ValueOf(i)}\r\nEND\r\n");
        }

        var stats = await StatsAsync(reader, "stats");
        Assert.True(long.Parse(stats["cold_reads"], System.Globalization.CultureInfo.InvariantCulture) > Keys / 2);
        Assert.Equal("0", stats["cold_read_errors"]);
    }

    private Task<TestServer> StartPrimaryAsync() => TestServer.StartAsync(options => options.DataDirectory = _primaryDirectory);

    private Task<TestServer> StartReplicaAsync(int primaryPort, bool replicaOfEnabled = false) => TestServer.StartAsync(options =>
    {
        options.DataDirectory = _replicaDirectory;
        options.ReplicaOf = $"127.0.0.1:{primaryPort}";
        options.ReplicaOfCommandEnabled = replicaOfEnabled;
    });

    /// <summary>Replication is asynchronous: ask until the replica answers as expected, for at most 10 s.</summary>
    private static async Task WaitForAsync(TestClient client, string request, string expected)
    {
        string last = "";
        for (int i = 0; i < 100; i++)
        {
            await client.SendAsync(request);
            var (bytes, _) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(50));
            last = System.Text.Encoding.Latin1.GetString(bytes);
            if (last == expected)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Equal(expected, last);
    }

    /// <summary>"stats replication" as name/value pairs (the replication tests' one reader of it).</summary>
    internal static async Task<Dictionary<string, string>> StatsAsync(TestClient client, string command = "stats replication")
    {
        await client.SendAsync(command + "\r\n");
        var stats = new Dictionary<string, string>();
        for (var line = (await client.ReadLineAsync()).TrimEnd(); line != "END"; line = (await client.ReadLineAsync()).TrimEnd())
        {
            var parts = line.Split(' ', 3);
            stats[parts[1]] = parts.Length > 2 ? parts[2] : "";
        }

        return stats;
    }
}
