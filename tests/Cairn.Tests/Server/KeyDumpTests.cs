using System.Text;
using System.Text.RegularExpressions;
using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

/// <summary>lru_crawler metadump and mgdump: memcached 1.6's key listings, streamed a shard at a time.</summary>
public sealed class KeyDumpTests
{
    [Fact]
    public async Task Metadump_lists_every_live_key_uri_encoded_with_memcacheds_fields()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set a%b 5 0 3\r\nabc\r\nset k2 0 100 1\r\nx\r\nset gone 0 0 1\r\ny\r\ndelete gone\r\nget k2\r\n",
            "STORED\r\nSTORED\r\nSTORED\r\nDELETED\r\nVALUE k2 0 1\r\nx\r\nEND\r\n");

        var dump = await DumpAsync(client, "lru_crawler metadump all\r\n", "END\r\n");
        var lines = dump[..^"END\r\n".Length].Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.Matches(MetadumpLine("a%25b", "-1", "no", 69, 5), lines[0]);
        Assert.Matches(MetadumpLine("k2", @"\d{10}", "yes", 62, 0), lines[1]);

        // The same through the "hash" walk and by class id.
        var cls = Regex.Match(lines[1], @"cls=(\d+)").Groups[1].Value;
        Assert.Equal(dump, await DumpAsync(client, "lru_crawler metadump hash\r\n", "END\r\n"), new LineSetComparer());
        Assert.Contains("key=k2 ", await DumpAsync(client, $"lru_crawler metadump {cls}\r\n", "END\r\n"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mgdump_lists_mg_lines_and_a_key_a_line_cannot_carry_in_base64()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using var client = await server.ConnectAsync();
        var binaryKey = Convert.ToBase64String([0x00, 0x20, 0xff, 0x41]);
        await client.RoundTripAsync($"set plain 0 0 1\r\n1\r\nms {binaryKey} 1 b\r\n2\r\n", "STORED\r\nHD\r\n");

        var dump = await DumpAsync(client, "lru_crawler mgdump all\r\nmn\r\n", "EN\r\nMN\r\n");
        var lines = dump.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.Equal(["EN", "MN"], lines[^2..]);
        Assert.Equal(["mg plain", $"mg {binaryKey} b"], lines[..^2].Order(StringComparer.Ordinal).Reverse());
    }

    [Theory]
    [InlineData("lru_crawler metadump 99\r\n", "BADCLASS invalid class id\r\n")]
    [InlineData("lru_crawler metadump x\r\n", "BADCLASS invalid class id\r\n")]
    [InlineData("lru_crawler mgdump 1,,2\r\n", "BADCLASS invalid class id\r\n")]
    [InlineData("lru_crawler metadump\r\n", "ERROR\r\n")]
    [InlineData("lru_crawler crawl all\r\n", "ERROR\r\n")]
    public async Task Bad_dump_requests_are_answered_as_memcached_answers_them(string request, string reply)
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync(request + "version\r\n", reply + "VERSION ");
    }

    [Fact]
    public async Task A_large_listing_streams_every_key_once_while_other_connections_are_served()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using var loader = await server.ConnectAsync();
        var load = new StringBuilder();
        for (int i = 0; i < 30_000; i++)
        {
            load.Append(System.Globalization.CultureInfo.InvariantCulture, $"set key{i} 0 0 10 noreply\r\n0123456789\r\n");
        }

        await loader.RoundTripAsync(load + "mn\r\n", "MN\r\n");
        using var dumper = await server.ConnectAsync();
        var dumping = DumpAsync(dumper, "lru_crawler mgdump all\r\n", "EN\r\n");
        using var other = await server.ConnectAsync();
        await other.RoundTripAsync("get key7\r\n", "VALUE key7 0 10\r\n0123456789\r\nEND\r\n");

        var keys = (await dumping).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).SkipLast(1).ToList();
        Assert.Equal(30_000, keys.Count);
        Assert.Equal(30_000, keys.Distinct().Count());
    }

    private static Regex MetadumpLine(string key, string exp, string fetch, int size, uint flags) =>
        new($@"^key={Regex.Escape(key)} exp={exp} la=\d{{10}} cas=\d+ fetch={fetch} cls=\d+ size={size} flags={flags}$");

    /// <summary>Reads until the reply ends with <paramref name="terminator"/> (a listing arrives in many flushes).</summary>
    private static async Task<string> DumpAsync(TestClient client, string request, string terminator)
    {
        await client.SendAsync(request);
        var text = new StringBuilder();
        while (!text.ToString().EndsWith(terminator, StringComparison.Ordinal))
        {
            var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(200));
            text.Append(Encoding.Latin1.GetString(bytes));
            Assert.False(closed, "the server closed the connection: " + text);
        }

        return text.ToString();
    }

    /// <summary>Two listings hold the same lines, in any order (shards are walked in index order, not by key).</summary>
    private sealed class LineSetComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) =>
            x!.Split('\n').Order(StringComparer.Ordinal).SequenceEqual(y!.Split('\n').Order(StringComparer.Ordinal));

        public int GetHashCode(string obj) => 0;
    }

    [Fact]
    public async Task Stats_cachedump_lists_a_class_up_to_its_limit_in_memcacheds_format()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set a 0 0 1\r\n1\r\nset b 0 1800000000 2\r\n22\r\nme a\r\n", "STORED\r\nSTORED\r\n");
        var cls = Regex.Match(await client.ReadLineAsync(), @"cls=(\d+)").Groups[1].Value;
        var all = await DumpAsync(client, $"stats cachedump {cls} 0\r\n", "END\r\n");
        Assert.Equal(["END", "ITEM a [1 b; 0 s]", "ITEM b [2 b; 1800000000 s]"], all.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Equal(2, (await DumpAsync(client, $"stats cachedump {cls} 1\r\n", "END\r\n")).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [ExternalToolFact("memcdump")]
    public async Task Memcdump_lists_every_key()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set alpha 0 0 1\r\n1\r\nset beta 0 0 300\r\n" + new string('v', 300) + "\r\n", "STORED\r\nSTORED\r\n");
        var (code, output) = await ExternalTool.RunAsync("memcdump", [$"--servers=127.0.0.1:{server.Port}"], TimeSpan.FromSeconds(30));
        Assert.Equal(0, code);
        Assert.Equal(["alpha", "beta"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));
    }
}
