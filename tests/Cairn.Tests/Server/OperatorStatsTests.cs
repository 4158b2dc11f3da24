using Cairn.Tests.Support;
namespace Cairn.Tests.Server;

/// <summary>Counters and settings an operator reads in stats, as memcached keeps them.</summary>
public sealed class OperatorStatsTests
{
    [Fact]
    public async Task Get_expired_and_get_flushed_count_what_lookups_found_dead()
    {
        var time = new ManualTimeProvider();
        await using var server = await TestServer.StartAsync(options => options.Persist = false, time);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set soon 0 10 1\r\na\r\nset old 0 0 1\r\nb\r\n", "STORED\r\nSTORED\r\n");
        time.Advance(TimeSpan.FromSeconds(11));
        await client.RoundTripAsync("get soon\r\n", "END\r\n");
        await client.RoundTripAsync("flush_all 1\r\n", "OK\r\n");
        time.Advance(TimeSpan.FromSeconds(2));
        await client.RoundTripAsync("get old\r\n", "END\r\n");
        var stats = await StatsAsync(client, "stats");
        Assert.Equal("1", stats["get_expired"]);
        Assert.Equal("1", stats["get_flushed"]);
    }

    [Fact]
    public async Task Store_no_memory_counts_each_refusal_once()
    {
        await using var server = await TestServer.StartAsync(options =>
        {
            options.Persist = false;
            options.MemoryLimitBytes = 2 * 1024 * 1024;
        });
        using var client = await server.ConnectAsync();
        var value = new string('v', 100 * 1024);
        int refused = 0;
        for (int i = 0; i < 64; i++)
        {
            await client.SendAsync($"set k{i} 0 0 {value.Length}\r\n{value}\r\n");
            var reply = await client.ReadLineAsync();
            refused += reply.StartsWith("SERVER_ERROR out of memory", StringComparison.Ordinal) ? 1 : 0;
        }

        Assert.True(refused > 0);
        Assert.Equal(refused.ToString(System.Globalization.CultureInfo.InvariantCulture), (await StatsAsync(client, "stats"))["store_no_memory"]);
    }

    [Fact]
    public async Task Stats_detail_counts_per_prefix_once_switched_on()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set user:1 0 0 1\r\na\r\n", "STORED\r\n");
        await client.RoundTripAsync("stats detail on\r\n", "OK\r\n");
        await client.RoundTripAsync("set user:2 0 0 1\r\nb\r\nget user:2 user:3\r\ndelete user:2\r\nset plain 0 0 1\r\nc\r\nmg page:home v\r\n", "STORED\r\nVALUE user:2 0 1\r\nb\r\nEND\r\nDELETED\r\nSTORED\r\nEN\r\n");
        await client.RoundTripAsync("stats detail dump\r\n", "PREFIX page get 1 hit 0 set 0 del 0\r\nPREFIX user get 2 hit 1 set 1 del 1\r\nEND\r\n");
        await client.RoundTripAsync("stats detail off\r\n", "OK\r\n");
        await client.RoundTripAsync("get user:2\r\n", "END\r\n");
        await client.RoundTripAsync("stats detail dump\r\n", "PREFIX page get 1 hit 0 set 0 del 0\r\nPREFIX user get 2 hit 1 set 1 del 1\r\nEND\r\n");
    }

    [Fact]
    public async Task Stats_conns_lists_listeners_then_connections_in_memcacheds_address_form()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using var idle = await server.ConnectAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync("stats conns\r\n");
        var lines = new List<string>();
        for (var line = await ReadAsync(client); line != "END"; line = await ReadAsync(client))
        {
            lines.Add(line);
        }

        Assert.Equal($"STAT 1:addr tcp:127.0.0.1:{server.Port}", lines[0]);
        Assert.Equal("STAT 1:state conn_listening", lines[1]);
        Assert.Contains(lines, line => line.EndsWith($":listen_addr tcp:127.0.0.1:{server.Port}", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.EndsWith(":state conn_parse_cmd", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.EndsWith(":state conn_new_cmd", StringComparison.Ordinal) || line.EndsWith(":state conn_waiting", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Idle_timeout_closes_idle_connections_counts_them_and_spares_busy_ones()
    {
        await using var server = await TestServer.StartAsync(options =>
        {
            options.Persist = false;
            options.IdleTimeoutSeconds = 1;
        });
        using var idle = await server.ConnectAsync();
        using var busy = await server.ConnectAsync();
        var closed = false;
        for (int i = 0; i < 40 && !closed; i++)
        {
            await busy.RoundTripAsync("version\r\n", $"VERSION {Cairn.Server.Hosting.ServerContext.Version}\r\n");
            closed = await idle.IsClosedByServerAsync(TimeSpan.FromMilliseconds(250));
        }

        Assert.True(closed, "the idle connection was not closed within 10 s");
        var stats = await StatsAsync(busy, "stats");
        Assert.Equal("1", stats["idle_kicks"]);
        Assert.Equal("1", (await StatsAsync(busy, "stats settings"))["idle_timeout"]);
    }

    [Fact]
    public async Task Max_get_line_bounds_what_a_multi_get_line_may_buffer()
    {
        await using var server = await TestServer.StartAsync(options =>
        {
            options.Persist = false;
            options.MaxGetLineLength = 8 * 1024;
        });
        var keys = string.Join(' ', Enumerable.Range(0, 2000).Select(i => $"k{i:0000}"));
        using (var within = await server.ConnectAsync())
        {
            await within.RoundTripAsync($"get {keys[..(7 * 1024)].TrimEnd()}\r\n", "END\r\n");
        }

        using var beyond = await server.ConnectAsync();
        await beyond.SendAsync("get " + keys[..(9 * 1024)]);
        Assert.True(await beyond.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    private static async Task<string> ReadAsync(TestClient client) => (await client.ReadLineAsync()).TrimEnd('\r', '\n');

    private static async Task<Dictionary<string, string>> StatsAsync(TestClient client, string command)
    {
        await client.SendAsync(command + "\r\n");
        var stats = new Dictionary<string, string>();
        for (var line = await ReadAsync(client); line != "END"; line = await ReadAsync(client))
        {
            var parts = line.Split(' ', 3);
            stats[parts[1]] = parts[2];
        }

        return stats;
    }
}
