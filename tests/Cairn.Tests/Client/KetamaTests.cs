using System.Text;
using Cairn.Client;
using Cairn.Tests.Support;

namespace Cairn.Tests.Client;

public sealed class KetamaTests
{
    private static readonly (string Host, int Port)[] RecordedServers = [("127.0.0.1", 21211), ("127.0.0.1", 21212), ("127.0.0.1", 21213)];

    // Placements pylibmc 1.6.3 over libmemcached 1.1.4 gave for these three servers.
    [Theory]
    [InlineData("foo", 2, 2)]
    [InlineData("bar", 0, 0)]
    [InlineData("hello", 1, 1)]
    [InlineData("key:1", 1, 0)]
    [InlineData("user:42", 1, 0)]
    [InlineData("ü", 1, 0)]
    public void Ring_matches_recorded_libmemcached_placements(string key, int ketama, int weighted)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        Assert.Equal(ketama, KetamaRing.Create(RecordedServers, KetamaMode.Ketama).GetServer(bytes));
        Assert.Equal(weighted, KetamaRing.Create(RecordedServers, KetamaMode.KetamaWeighted).GetServer(bytes));
    }

    [Fact]
    public void One_at_a_time_reads_bytes_as_signed_chars() =>
        Assert.NotEqual(KetamaRing.OneAtATime([0xC3]), KetamaRing.OneAtATime([0x43]));

    [Theory]
    [InlineData("127.0.0.1:11211:3", "127.0.0.1", 11211, 3)]
    [InlineData("cache-1:9889", "cache-1", 9889, 1)]
    [InlineData("cache-1", "cache-1", 11211, 1)]
    [InlineData("[::1]:9889:2", "::1", 9889, 2)]
    [InlineData("[::1]", "::1", 11211, 1)]
    public void Server_text_reads_as_twemproxy_and_pylibmc_write_it(string text, string host, int port, int weight) =>
        Assert.Equal(new KetamaServer(host, port, weight), KetamaServer.Parse(text));

    [Theory]
    [InlineData("", "names no host")]
    [InlineData("h:0", "bad port '0'")]
    [InlineData("h:1:0", "bad weight '0'")]
    [InlineData("h:1:x", "bad weight 'x'")]
    [InlineData("::1:9889", "write an IPv6 host in brackets")]
    [InlineData("[::1]x", "is not a server")]
    [InlineData("h:1:2:3", "write an IPv6 host in brackets")]
    public void Bad_server_text_is_refused_with_the_part_named(string text, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => KetamaServer.Parse(text)).Message, StringComparison.Ordinal);

    [Fact]
    public void A_heavier_server_takes_a_proportional_share_of_the_keys()
    {
        var ring = KetamaRing.Create([new KetamaServer("a", 1, 1), new KetamaServer("b", 1, 3)], KetamaMode.KetamaWeighted);
        var onHeavier = Enumerable.Range(0, 20_000).Count(i => ring.GetServer(Encoding.UTF8.GetBytes($"k{i}")) == 1);
        Assert.InRange(onHeavier, 13_000, 17_000);
    }

    [ExternalToolFact("/usr/lib/python3/dist-packages/pylibmc")]
    public Task Ketama_places_keys_where_pylibmc_does() => CrossCheckAsync("ketama", KetamaMode.Ketama, [1, 1, 1]);

    [ExternalToolFact("/usr/lib/python3/dist-packages/pylibmc")]
    public Task Weighted_ketama_places_keys_where_pylibmc_does() => CrossCheckAsync("ketama_weighted", KetamaMode.KetamaWeighted, [1, 1, 1]);

    [ExternalToolFact("/usr/lib/python3/dist-packages/pylibmc")]
    public Task Weighted_ketama_with_unequal_weights_places_keys_where_pylibmc_does() =>
        CrossCheckAsync("ketama_weighted", KetamaMode.KetamaWeighted, [1, 2, 5]);

    private static async Task CrossCheckAsync(string behavior, KetamaMode mode, int[] weights)
    {
        var servers = new List<TestServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                servers.Add(await TestServer.StartAsync());
            }

            var ports = servers.Select(s => s.Port).ToArray();
            var keys = Enumerable.Range(0, 1000).Select(i => $"ketama:{i}").ToArray();
            const string Script = """
                import sys, pylibmc
                c = pylibmc.Client(["127.0.0.1:" + p for p in sys.argv[2:]], behaviors={sys.argv[1]: True})
                for i in range(1000):
                    c.set("ketama:%d" % i, "x")
                """;
            var (code, output) = await ExternalTool.RunAsync("/usr/bin/python3", ["-c", Script, behavior, .. ports.Select((p, i) => $"{p}:{weights[i]}")], TimeSpan.FromSeconds(60));
            Assert.True(code == 0, output);

            await using var client = ClientRoundTripTests.Connect(ports.Select((p, i) => $"{p}:{weights[i]}"), mode: mode);
            var agreed = 0;
            for (var i = 0; i < servers.Count; i++)
            {
                await using var direct = ClientRoundTripTests.Connect([ports[i]]);
                var held = await direct.GetManyAsync(keys);
                foreach (var key in held.Keys)
                {
                    Assert.Equal($"127.0.0.1:{ports[i]}", client.GetServerForKey(key));
                    agreed++;
                }
            }

            Assert.Equal(keys.Length, agreed);
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }
}
