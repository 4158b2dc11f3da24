using Cairn.Client;
using Cairn.Tests.Support;

namespace Cairn.Tests.Client;

public sealed class ClientRoundTripTests
{
    internal static CairnClient Connect(IEnumerable<int> ports, int connections = 2, TimeSpan? timeout = null, KetamaMode mode = KetamaMode.Ketama) =>
        Connect(ports.Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)), connections, timeout, mode);

    /// <summary>A client over loopback servers given as <c>port</c> or <c>port:weight</c>.</summary>
    internal static CairnClient Connect(IEnumerable<string> ports, int connections = 2, TimeSpan? timeout = null, KetamaMode mode = KetamaMode.Ketama)
    {
        var options = new CairnClientOptions
        {
            ConnectionsPerServer = connections,
            OperationTimeout = timeout ?? TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            Ketama = mode,
        };
        options.Servers.Clear();
        foreach (var port in ports)
        {
            options.Servers.Add($"127.0.0.1:{port}");
        }

        return new CairnClient(options);
    }

    [Fact]
    public async Task Every_operation_round_trips_against_the_real_server()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = Connect([server.Port]);

        Assert.Equal(CairnStoreResult.Stored, await client.SetAsync("k", "hello", flags: 5));
        var item = await client.GetAsync("k");
        Assert.Equal("hello", item!.ValueAsString());
        Assert.Equal(5u, item.Flags);
        Assert.NotEqual(0ul, item.Cas);

        Assert.Equal(CairnStoreResult.NotStored, await client.AddAsync("k", "x"));
        Assert.Equal(CairnStoreResult.Stored, await client.AddAsync("fresh", "x"));
        Assert.Equal(CairnStoreResult.NotStored, await client.ReplaceAsync("missing", "x"));
        Assert.Equal(CairnStoreResult.Stored, await client.ReplaceAsync("fresh", "y"));
        Assert.Equal(CairnStoreResult.Stored, await client.AppendAsync("k", " world"));
        Assert.Equal(CairnStoreResult.Stored, await client.PrependAsync("k", ">"));
        Assert.Equal(">hello world", await client.GetStringAsync("k"));
        Assert.Equal(CairnStoreResult.NotStored, await client.AppendAsync("missing", "x"));

        var current = await client.GetAsync("k");
        Assert.Equal(CairnStoreResult.Stored, await client.CasAsync("k", "swapped", current!.Cas));
        Assert.Equal(CairnStoreResult.Exists, await client.CasAsync("k", "again", current.Cas));
        Assert.Equal(CairnStoreResult.NotFound, await client.CasAsync("missing", "x", 1));

        Assert.Null(await client.IncrementAsync("counter"));
        Assert.Equal(10ul, await client.IncrementAsync("counter", 1, 10));
        Assert.Equal(15ul, await client.IncrementAsync("counter", 5));
        Assert.Equal(12ul, await client.DecrementAsync("counter", 3));
        Assert.Equal(0ul, await client.DecrementAsync("counter", 100));

        Assert.True(await client.TouchAsync("fresh", TimeSpan.FromSeconds(100)));
        Assert.False(await client.TouchAsync("missing", TimeSpan.FromSeconds(100)));
        Assert.Equal("y", (await client.GetAndTouchAsync("fresh", TimeSpan.FromSeconds(50)))!.ValueAsString());
        Assert.Null(await client.GetAndTouchAsync("missing", TimeSpan.FromSeconds(50)));

        var many = await client.GetManyAsync(["k", "fresh", "missing"]);
        Assert.Equal(["fresh", "k"], many.Keys.Order());
        Assert.Equal("swapped", many["k"].ValueAsString());

        Assert.True(await client.DeleteAsync("k"));
        Assert.False(await client.DeleteAsync("k"));

        var binary = new byte[] { 0, 13, 10, 255, 32 };
        await client.SetAsync("bin key", binary);
        Assert.Equal(binary, (await client.GetAsync("bin key"))!.Value.ToArray());

        var stats = await client.StatsAsync();
        Assert.True(int.Parse(stats[$"127.0.0.1:{server.Port}"]["pid"]) > 0);

        await client.FlushAsync();
        Assert.Null(await client.GetAsync("fresh"));
    }

    [Fact]
    public async Task Ttl_expires_items()
    {
        var time = new ManualTimeProvider();
        await using var server = await TestServer.StartAsync(time: time);
        await using var client = Connect([server.Port]);
        await client.SetAsync("short", "v", TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.NotNull(await client.GetAsync("short"));
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.Null(await client.GetAsync("short"));
    }

    [Fact]
    public async Task Fifty_concurrent_callers_on_two_connections_get_their_own_replies()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = Connect([server.Port], connections: 2);
        var callers = Enumerable.Range(0, 50).Select(async i =>
        {
            for (var round = 0; round < 20; round++)
            {
                var value = $"value-{i}-{round}-" + new string('x', i * 10);
                Assert.Equal(CairnStoreResult.Stored, await client.SetAsync($"caller:{i}", value));
                Assert.Equal(value, await client.GetStringAsync($"caller:{i}"));
            }
        });
        await Task.WhenAll(callers);
        Assert.Equal(2, client.OpenConnections);
    }

    [Fact]
    public async Task Server_going_away_is_reported_and_the_client_reconnects_when_it_returns()
    {
        var server = await TestServer.StartAsync();
        var port = server.Port;
        await using var client = Connect([port], connections: 1);
        await client.SetAsync("k", "before");
        await server.DisposeAsync();

        var error = await Assert.ThrowsAsync<CairnServerUnavailableException>(() => client.GetAsync("k"));
        Assert.Contains($"127.0.0.1:{port}", error.Message);
        error = await Assert.ThrowsAsync<CairnServerUnavailableException>(() => client.GetAsync("k"));
        Assert.Contains($"127.0.0.1:{port}", error.Message);

        await using var back = await TestServer.StartAsync(options => options.Port = port);
        Assert.Equal(CairnStoreResult.Stored, await client.SetAsync("k", "after"));
        Assert.Equal("after", await client.GetStringAsync("k"));
    }
}
