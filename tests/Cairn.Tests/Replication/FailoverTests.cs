using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Cairn.Tests.Support;
using Xunit.Abstractions;

namespace Cairn.Tests.Replication;

/// <summary>Leases of two seconds: these tests run alone, so a busy machine is not mistaken for a dead primary.</summary>
[CollectionDefinition(nameof(LeaseTimed), DisableParallelization = true)]
public sealed class LeaseTimed;

/// <summary>
/// Failover through a real etcd (Debian's etcd-server, started here on loopback ports): three nodes with
/// --sync-replicas 1, the primary killed with SIGKILL at random moments, and every acknowledged write checked afterwards.
/// </summary>
[Collection(nameof(LeaseTimed))]
public sealed class FailoverTests(ITestOutputHelper output)
{
    private const string FailoversVariable = "CAIRN_FAILOVERS";

    [ExternalToolFact("etcd")]
    public async Task Killed_primaries_are_replaced_without_losing_an_acknowledged_write()
    {
        var failovers = int.TryParse(Environment.GetEnvironmentVariable(FailoversVariable), out var wanted) ? wanted : 20;
        await using var cluster = await ClusterHarness.StartAsync(3, "--sync-replicas", "1", "--sync-timeout", "500");
        await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(30));
        var history = new WriteHistory();
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(id => Task.Run(() => WriteAsync(cluster, id, history, stop.Token))).ToArray();
        var random = new Random(8);
        var failoverTimes = new List<double>();
        try
        {
            for (int i = 0; i < failovers; i++)
            {
                // Each round starts from a working primary with writes flowing, then kills it at a random moment.
                var before = history.AcknowledgedCount;
                await WaitUntilAsync(() => history.AcknowledgedCount >= before + 100, TimeSpan.FromSeconds(60), cluster, "writes to resume");
                await Task.Delay(random.Next(0, 300));
                var primary = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(30));
                var killedAt = Stopwatch.GetTimestamp();
                await cluster.KillAsync(primary);
                await WaitUntilAsync(() => history.FirstAcknowledgementAfter(killedAt, excludingPort: cluster.Ports[primary]) is not null, TimeSpan.FromSeconds(60), cluster, "a write acknowledged by a new primary");
                failoverTimes.Add(Stopwatch.GetElapsedTime(killedAt, history.FirstAcknowledgementAfter(killedAt, cluster.Ports[primary])!.Value).TotalMilliseconds);

                // The old primary returns on its data and must rejoin as a replica.
                await cluster.StartNodeAsync(primary);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        Assert.Empty(history.Problems);
        var final = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(30));
        var lost = await history.VerifyAsync(cluster.Ports[final]);
        failoverTimes.Sort();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{failovers} failovers, {history.AcknowledgedCount} acknowledged writes, {history.AttemptedCount} attempted, {lost.Count} lost; " +
            $"failover time (kill to first acknowledged write) p50 {failoverTimes[failoverTimes.Count / 2]:F0} ms, max {failoverTimes[^1]:F0} ms"));
        if (lost.Count > 0)
        {
            output.WriteLine($"final primary n{final}; first lost: {string.Join(' ', lost.Order().Take(20))}\n{cluster.Logs()}");
        }

        Assert.Empty(lost);

        // Every node converges on the same data: the replicas too hold every acknowledged write.
        for (int node = 0; node < cluster.Nodes.Length; node++)
        {
            if (node != final)
            {
                await WaitUntilAsync(() => CaughtUp(cluster, node, final), TimeSpan.FromSeconds(60), cluster, $"n{node} to catch up");
                var missing = await history.VerifyAsync(cluster.Ports[node]);
                if (missing.Count > 0)
                {
                    output.WriteLine($"n{node} (primary n{final}) lacks {missing.Count}: {string.Join(' ', missing.Order().Take(30))}");
                    output.WriteLine(string.Join('\n', (await cluster.StatsAsync(node))!.Select(kv => kv.Key + "=" + kv.Value)));
                    output.WriteLine(string.Join('\n', (await cluster.StatsAsync(final))!.Select(kv => kv.Key + "=" + kv.Value)));
                    output.WriteLine(cluster.Logs());
                }

                Assert.Empty(missing);
            }
        }
    }

    [ExternalToolFact("etcd")]
    public async Task A_primary_cut_off_from_etcd_stops_acknowledging_within_the_lease_and_nobody_is_promoted_meanwhile()
    {
        await using var cluster = await ClusterHarness.StartAsync(3, "--sync-replicas", "1");
        var primary = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(30));
        using var client = await LineConnection.OpenAsync(cluster.Ports[primary]);
        await WaitUntilAsync(async () => await SetAsync(client, "warm", "1") == "STORED", TimeSpan.FromSeconds(30), cluster, "a sync replica to join");

        await cluster.Etcd.SignalAsync("STOP");
        var stoppedAt = Stopwatch.GetTimestamp();
        var lastAcknowledged = TimeSpan.Zero;
        string reply;
        int n = 0;
        while ((reply = await SetAsync(client, "k" + n++, "v")) == "STORED" && Stopwatch.GetElapsedTime(stoppedAt) < TimeSpan.FromSeconds(3 * ClusterHarness.LeaseTtlSeconds))
        {
            lastAcknowledged = Stopwatch.GetElapsedTime(stoppedAt);
        }

        var refusedAfter = Stopwatch.GetElapsedTime(stoppedAt);
        output.WriteLine($"last write acknowledged {lastAcknowledged.TotalMilliseconds:F0} ms after etcd stopped, first refusal at {refusedAfter.TotalMilliseconds:F0} ms " +
            $"(lease ttl {ClusterHarness.LeaseTtlSeconds} s): '{reply}'");
        Assert.StartsWith("SERVER_ERROR", reply);

        // The primary stopped acknowledging before etcd could expire its lease; and with etcd unreachable nobody may take over.
        Assert.True(lastAcknowledged < TimeSpan.FromSeconds(ClusterHarness.LeaseTtlSeconds), $"still acknowledging {lastAcknowledged} after etcd stopped");
        await Task.Delay(TimeSpan.FromSeconds(2 * ClusterHarness.LeaseTtlSeconds));
        Assert.Equal(-1, await cluster.FindPrimaryAsync());
        for (int node = 0; node < 3; node++)
        {
            Assert.NotEqual("primary", (await cluster.StatsAsync(node))!["role"]);
        }

        await cluster.Etcd.SignalAsync("CONT");
        var next = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(30));
        using var after = await LineConnection.OpenAsync(cluster.Ports[next]);
        await WaitUntilAsync(async () => await SetAsync(after, "after", "1") == "STORED", TimeSpan.FromSeconds(30), cluster, "writes to resume");
        Assert.Equal("1", (await after.GetsAsync(["warm"]))["warm"].Value);
    }

    [ExternalToolFact("etcd")]
    public async Task A_returning_old_primary_rejoins_as_a_replica_and_keeps_its_discarded_history_aside()
    {
        await using var cluster = await ClusterHarness.StartAsync(3, "--sync-replicas", "1");
        var old = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(30));
        using (var client = await LineConnection.OpenAsync(cluster.Ports[old]))
        {
            await WaitUntilAsync(async () => await SetAsync(client, "kept", "1") == "STORED", TimeSpan.FromSeconds(30), cluster, "a sync replica to join");
        }

        await cluster.KillAsync(old);
        var next = await cluster.WaitForPrimaryAsync(TimeSpan.FromSeconds(30));
        using (var client = await LineConnection.OpenAsync(cluster.Ports[next]))
        {
            Assert.Equal("1", (await client.GetsAsync(["kept"]))["kept"].Value);
            await WaitUntilAsync(async () => await SetAsync(client, "later", "2") == "STORED", TimeSpan.FromSeconds(30), cluster, "a sync replica to join the new primary");
        }

        await cluster.StartNodeAsync(old);
        await WaitUntilAsync(() => CaughtUp(cluster, old, next), TimeSpan.FromSeconds(30), cluster, "the old primary to follow");
        Assert.Equal("replica", (await cluster.StatsAsync(old))!["role"]);
        using var check = await LineConnection.OpenAsync(cluster.Ports[old]);
        var values = await check.GetsAsync(["kept", "later"]);
        Assert.Equal(("1", "2"), (values["kept"].Value, values["later"].Value));
        Assert.Single(Directory.GetDirectories(cluster.DataDirectory(old), "forked-*"));
        Assert.Contains(cluster.Nodes[old]!.ErrorLines(), line => line.Contains("discarding this node's own history", StringComparison.Ordinal));
    }

    private static async Task<bool> CaughtUp(ClusterHarness cluster, int node, int primary)
    {
        var stats = await cluster.StatsAsync(node);
        var primaryStats = await cluster.StatsAsync(primary);
        return stats is not null && primaryStats is not null && stats.GetValueOrDefault("role") == "replica" &&
            stats.GetValueOrDefault("primary") == $"127.0.0.1:{cluster.Ports[primary]}" &&
            stats.GetValueOrDefault("applied_sequence") == primaryStats["log_last_sequence"];
    }

    private static async Task<string> SetAsync(LineConnection client, string key, string value)
    {
        await client.SendAsync($"set {key} 0 0 {value.Length}\r\n{value}\r\n");
        return await client.ReadLineAsync();
    }

    private static Task WaitUntilAsync(Func<bool> condition, TimeSpan within, ClusterHarness cluster, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), within, cluster, what);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan within, ClusterHarness cluster, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception error) when (error is IOException or SocketException)
            {
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"waited {within} for {what}\n{cluster.Logs()}");
    }

    /// <summary>
    /// One writer: unique keys (so a lost write cannot hide under a later one), meta sets returning the CAS, sent to
    /// whichever node leads; a connection error or any error reply means "not acknowledged" and a look for the leader.
    /// </summary>
    private static async Task WriteAsync(ClusterHarness cluster, int writer, WriteHistory history, CancellationToken stop)
    {
        LineConnection? connection = null;
        int port = 0;
        for (long n = 0; !stop.IsCancellationRequested; n++)
        {
            var key = $"w{writer}-{n}";
            var value = $"v{writer}-{n}-" + new string('x', (int)(n % 50));
            history.Attempted(key, value);
            try
            {
                if (connection is null)
                {
                    var primary = await cluster.FindPrimaryAsync();
                    if (primary < 0)
                    {
                        await Task.Delay(20, CancellationToken.None);
                        continue;
                    }

                    port = cluster.Ports[primary];
                    connection = await LineConnection.OpenAsync(port);
                }

                await connection.SendAsync($"ms {key} {value.Length} c\r\n{value}\r\n");
                var reply = await connection.ReadLineAsync();
                if (reply.StartsWith("HD c", StringComparison.Ordinal))
                {
                    history.Acknowledged(key, ulong.Parse(reply.AsSpan(4), CultureInfo.InvariantCulture), port);
                }
                else if (reply.StartsWith("SERVER_ERROR", StringComparison.Ordinal))
                {
                    connection.Dispose();
                    connection = null;
                }
                else
                {
                    history.Problem($"{key}: unexpected reply '{reply}'");
                }
            }
            catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or TimeoutException)
            {
                connection?.Dispose();
                connection = null;
            }
        }

        connection?.Dispose();
    }

    private sealed class WriteHistory
    {
        private readonly ConcurrentDictionary<string, string> _attempted = new();
        private readonly ConcurrentDictionary<string, ulong> _acknowledged = new();
        private readonly ConcurrentDictionary<ulong, string> _casOwners = new();
        private readonly ConcurrentQueue<(long At, int Port)> _acknowledgements = new();

        public ConcurrentQueue<string> Problems { get; } = new();

        public int AcknowledgedCount => _acknowledged.Count;

        public int AttemptedCount => _attempted.Count;

        public void Attempted(string key, string value) => _attempted[key] = value;

        public void Problem(string text) => Problems.Enqueue(text);

        public void Acknowledged(string key, ulong cas, int port)
        {
            _acknowledged[key] = cas;
            if (!_casOwners.TryAdd(cas, key))
            {
                Problems.Enqueue($"CAS {cas} acknowledged for both {_casOwners[cas]} and {key}");
            }

            _acknowledgements.Enqueue((Stopwatch.GetTimestamp(), port));
        }

        public long? FirstAcknowledgementAfter(long timestamp, int excludingPort) =>
            _acknowledgements.Where(a => a.At > timestamp && a.Port != excludingPort).Select(a => (long?)a.At).FirstOrDefault();

        /// <summary>Keys acknowledged but missing or different on the node; also fails on any value no client wrote.</summary>
        public async Task<List<string>> VerifyAsync(int port)
        {
            var lost = new List<string>();
            using var connection = await LineConnection.OpenAsync(port);
            foreach (var batch in _attempted.Keys.Chunk(100))
            {
                var found = await connection.GetsAsync(batch);
                foreach (var key in batch)
                {
                    var present = found.TryGetValue(key, out var item);
                    Assert.True(!present || item.Value == _attempted[key], $"{key} holds '{item.Value}', which no client wrote");
                    if (_acknowledged.TryGetValue(key, out var cas) && (!present || item.Cas != cas))
                    {
                        lost.Add(key);
                    }
                }
            }

            return lost;
        }
    }
}
