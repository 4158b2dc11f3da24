using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

/// <summary>The in-process server on a loopback port, checked byte for byte.</summary>
public sealed class TextProtocolTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(options => options.MaxItemSize = 4096);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Set_then_get_returns_the_exact_value_block()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set greeting 42 0 5\r\nhello\r\n", "STORED\r\n");
        await client.RoundTripAsync("get greeting\r\n", "VALUE greeting 42 5\r\nhello\r\nEND\r\n");
    }

    [Fact]
    public async Task Gets_shows_cas_and_cas_command_honours_it()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set c 0 0 1\r\na\r\n", "STORED\r\n");
        await client.SendAsync("gets c\r\n");
        var header = await client.ReadLineAsync();
        var cas = ulong.Parse(header.Split(' ')[4].TrimEnd());
        await client.ExpectAsync("a\r\nEND\r\n");
        await client.RoundTripAsync($"cas c 0 0 1 {cas + 1000}\r\nb\r\n", "EXISTS\r\n");
        await client.RoundTripAsync($"cas c 0 0 1 {cas}\r\nb\r\n", "STORED\r\n");
        await client.RoundTripAsync($"cas c 0 0 1 {cas}\r\nc\r\n", "EXISTS\r\n");
        await client.RoundTripAsync("cas missing 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n");
        await client.RoundTripAsync("get c\r\n", "VALUE c 0 1\r\nb\r\nEND\r\n");
    }

    [Fact]
    public async Task Multi_get_returns_hits_in_order_and_skips_misses()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set a 1 0 1\r\nA\r\nset b 2 0 2\r\nBB\r\n", "STORED\r\nSTORED\r\n");
        await client.RoundTripAsync("get a nope b a\r\n", "VALUE a 1 1\r\nA\r\nVALUE b 2 2\r\nBB\r\nVALUE a 1 1\r\nA\r\nEND\r\n");
    }

    [Fact]
    public async Task Noreply_sends_nothing_for_every_write()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync(
            "set n 0 0 1 noreply\r\n1\r\n" +
            "add n 0 0 1 noreply\r\n2\r\n" +
            "append n 0 0 1 noreply\r\n3\r\n" +
            "prepend n 0 0 1 noreply\r\n0\r\n" +
            "incr n 5 noreply\r\n" +
            "touch n 100 noreply\r\n" +
            "delete missing noreply\r\n" +
            "get n\r\n");
        // "013" + 5 is written back in place, padded to the old length, as memcached does.
        await client.ExpectAsync("VALUE n 0 3\r\n18 \r\nEND\r\n");
    }

    [Fact]
    public async Task Pipelined_batch_is_answered_in_order()
    {
        using var client = await _server.ConnectAsync();
        var request = string.Concat(Enumerable.Range(0, 200).Select(i => $"set k{i} 0 0 {i.ToString().Length}\r\n{i}\r\nget k{i}\r\n"));
        var expected = string.Concat(Enumerable.Range(0, 200).Select(i => $"STORED\r\nVALUE k{i} 0 {i.ToString().Length}\r\n{i}\r\nEND\r\n"));
        await client.RoundTripAsync(request, expected);
    }

    [Fact]
    public async Task Incr_and_decr_wrap_floor_and_refuse_non_numbers()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set n 0 0 20\r\n18446744073709551615\r\n", "STORED\r\n");
        await client.RoundTripAsync("incr n 2\r\n", "1\r\n");
        await client.RoundTripAsync("decr n 5\r\n", "0\r\n");
        await client.RoundTripAsync("set ten 0 0 2\r\n10\r\n", "STORED\r\n");
        await client.RoundTripAsync("decr ten 1\r\n", "9\r\n");
        await client.RoundTripAsync("get ten\r\n", "VALUE ten 0 2\r\n9 \r\nEND\r\n");
        await client.RoundTripAsync("set word 0 0 3\r\nabc\r\n", "STORED\r\n");
        await client.RoundTripAsync("incr word 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        await client.RoundTripAsync("incr nothing 1\r\n", "NOT_FOUND\r\n");
        await client.RoundTripAsync("incr word abc\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n");
    }

    [Fact]
    public async Task Add_replace_append_prepend_follow_existence()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("replace r 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
        await client.RoundTripAsync("append r 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
        await client.RoundTripAsync("add r 7 0 1\r\nx\r\n", "STORED\r\n");
        await client.RoundTripAsync("add r 0 0 1\r\ny\r\n", "NOT_STORED\r\n");
        await client.RoundTripAsync("append r 0 0 2\r\nyz\r\n", "STORED\r\n");
        await client.RoundTripAsync("prepend r 0 0 1\r\nw\r\n", "STORED\r\n");
        await client.RoundTripAsync("get r\r\n", "VALUE r 7 4\r\nwxyz\r\nEND\r\n");
        await client.RoundTripAsync("replace r 3 0 1\r\nq\r\n", "STORED\r\n");
        await client.RoundTripAsync("get r\r\n", "VALUE r 3 1\r\nq\r\nEND\r\n");
    }

    [Fact]
    public async Task Delete_including_the_legacy_zero_form()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set d 0 0 1\r\nx\r\n", "STORED\r\n");
        await client.RoundTripAsync("delete d 0\r\n", "DELETED\r\n");
        await client.RoundTripAsync("delete d\r\n", "NOT_FOUND\r\n");
        await client.RoundTripAsync("delete d 5\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
    }

    [Fact]
    public async Task Negative_exptime_expires_at_once_and_touch_and_gat_work()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set gone 0 -1 1\r\nx\r\n", "STORED\r\n");
        await client.RoundTripAsync("get gone\r\n", "END\r\n");
        await client.RoundTripAsync("set t 5 0 1\r\nx\r\n", "STORED\r\n");
        await client.RoundTripAsync("touch t 100\r\n", "TOUCHED\r\n");
        await client.RoundTripAsync("touch none 100\r\n", "NOT_FOUND\r\n");
        await client.RoundTripAsync("gat 100 t none\r\n", "VALUE t 5 1\r\nx\r\nEND\r\n");
        await client.RoundTripAsync("gat -1 t\r\n", "VALUE t 5 1\r\nx\r\nEND\r\n");
        await client.RoundTripAsync("get t\r\n", "END\r\n");
    }

    [Fact]
    public async Task Flush_all_empties_the_store()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set f 0 0 1\r\nx\r\n", "STORED\r\n");
        await client.RoundTripAsync("flush_all\r\n", "OK\r\n");
        await client.RoundTripAsync("get f\r\n", "END\r\n");
        await client.RoundTripAsync("flush_all noreply\r\nflush_all 0\r\n", "OK\r\n");
    }

    [Fact]
    public async Task Too_large_value_is_refused_swallowed_and_removes_the_old_value()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set big 0 0 1\r\nx\r\n", "STORED\r\n");
        var payload = new string('v', 5000);
        await client.RoundTripAsync($"set big 0 0 5000\r\n{payload}\r\n", "SERVER_ERROR object too large for cache\r\n");
        await client.RoundTripAsync("get big\r\n", "END\r\n");
        await client.RoundTripAsync("set big 0 0 1\r\ny\r\n", "STORED\r\n");
        await client.RoundTripAsync($"append big 0 0 5000\r\n{payload}\r\n", "SERVER_ERROR object too large for cache\r\n");
        await client.RoundTripAsync("get big\r\n", "VALUE big 0 1\r\ny\r\nEND\r\n");

        // Each part fits, the result would not: memcached calls that NOT_STORED and keeps the old value.
        var half = new string('h', 3000);
        await client.RoundTripAsync($"set big 0 0 3000\r\n{half}\r\n", "STORED\r\n");
        await client.RoundTripAsync($"append big 0 0 3000\r\n{half}\r\n", "NOT_STORED\r\n");
        await client.SendAsync("get big\r\n");
        Assert.Equal("VALUE big 0 3000\r\n", await client.ReadLineAsync());
    }

    [Fact]
    public async Task Bad_data_chunk_is_reported_and_the_connection_stays_usable()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set bad 0 0 2\r\nabcd\r\n", "CLIENT_ERROR bad data chunk\r\n");
        await client.SendAsync("version\r\n");
        var reply = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(300));
        Assert.EndsWith("\r\n", System.Text.Encoding.ASCII.GetString(reply.Bytes));
        await client.RoundTripAsync("get bad\r\n", "END\r\n");
    }

    [Fact]
    public async Task Long_key_on_set_is_refused_and_its_data_is_not_run_as_a_command()
    {
        using var client = await _server.ConnectAsync();
        var key = new string('k', 251);
        await client.RoundTripAsync($"set {key} 0 0 9\r\nflush_all\r\n", "CLIENT_ERROR bad command line format\r\n");
        await client.RoundTripAsync("set ok 0 0 1\r\n1\r\n", "STORED\r\n");
        await client.RoundTripAsync($"get ok {key}\r\n", "CLIENT_ERROR bad command line format\r\n");
        await client.RoundTripAsync("get ok\r\n", "VALUE ok 0 1\r\n1\r\nEND\r\n");
    }

    [Fact]
    public async Task Unknown_commands_get_ERROR_and_the_connection_continues()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("bogus\r\n\r\nget\r\n", "ERROR\r\nERROR\r\nERROR\r\n");
        await client.RoundTripAsync("get x\r\n", "END\r\n");
    }

    [Fact]
    public async Task Case_insensitive_names_and_short_set_are_accepted()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("SET make 4\r\nFord\r\n", "STORED\r\n");
        await client.RoundTripAsync("GET make\r\n", "VALUE make 0 4\r\nFord\r\nEND\r\n");
    }

    [Fact]
    public async Task Line_without_newline_past_2048_bytes_closes_the_connection()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("set " + new string('x', 3000));
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Multi_get_line_longer_than_2048_bytes_is_served()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set k7 0 0 1\r\n7\r\n", "STORED\r\n");
        var keys = string.Join(' ', Enumerable.Range(0, 600).Select(i => $"k{i}"));
        await client.RoundTripAsync($"get {keys}\r\n", "VALUE k7 0 1\r\n7\r\nEND\r\n");
    }

    [Fact]
    public async Task Quit_closes_after_earlier_replies()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("get a\r\nquit\r\nget b\r\n");
        var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
        Assert.True(closed);
        Assert.Equal("END\r\n", System.Text.Encoding.ASCII.GetString(bytes));
    }

    [Fact]
    public async Task Admin_commands_answer_as_memcached()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("verbosity 1\r\n", "OK\r\n");
        await client.RoundTripAsync("verbosity 1 noreply\r\nshutdown\r\n", "ERROR: shutdown not enabled\r\n");
        await client.RoundTripAsync("cache_memlimit 5\r\n", "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
        await client.RoundTripAsync("cache_memlimit 2048\r\n", "OK\r\n");
        await client.RoundTripAsync("stats cachedump 63 1\r\n", "END\r\n");
        await client.RoundTripAsync("stats reset\r\n", "RESET\r\n");
        await client.RoundTripAsync("stats nonsense\r\n", "ERROR\r\n");
        await client.SendAsync("version\r\n");
        Assert.StartsWith("VERSION ", await client.ReadLineAsync());
    }

    [Fact]
    public async Task Stats_report_items_and_hits()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("set s1 0 0 1\r\nx\r\nget s1 s2\r\n", "STORED\r\nVALUE s1 0 1\r\nx\r\nEND\r\n");
        var stats = await ReadStatsAsync(client, "stats\r\n");
        Assert.Equal("1", stats["curr_items"]);
        Assert.True(long.Parse(stats["get_hits"]) >= 1);
        Assert.True(long.Parse(stats["get_misses"]) >= 1);
        Assert.Equal((1024L * 1024 * 1024).ToString(), stats["limit_maxbytes"]);
        var settings = await ReadStatsAsync(client, "stats settings\r\n");
        Assert.Equal("4096", settings["item_size_max"]);
        var slabs = await ReadStatsAsync(client, "stats slabs\r\n");
        Assert.True(slabs.ContainsKey("active_slabs"));
        var items = await ReadStatsAsync(client, "stats items\r\n");
        Assert.Contains(items.Keys, name => name.EndsWith(":number", StringComparison.Ordinal));
        var conns = await ReadStatsAsync(client, "stats conns\r\n");
        Assert.Contains(conns.Keys, name => name.EndsWith(":addr", StringComparison.Ordinal));
    }

    internal static async Task<Dictionary<string, string>> ReadStatsAsync(TestClient client, string command)
    {
        await client.SendAsync(command);
        var stats = new Dictionary<string, string>();
        while (true)
        {
            var line = (await client.ReadLineAsync()).TrimEnd('\r', '\n');
            if (line == "END")
            {
                return stats;
            }

            var parts = line.Split(' ', 3);
            Assert.Equal("STAT", parts[0]);
            stats[parts[1]] = parts[2];
        }
    }
}
