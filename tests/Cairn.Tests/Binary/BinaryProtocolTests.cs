using Cairn.Protocol.Binary;
using Cairn.Server.Hosting;
using Cairn.Tests.Support;
using static Cairn.Tests.Binary.BinaryFrames;

namespace Cairn.Tests.Binary;

/// <summary>Each opcode against the in-process server, with the exact bytes memcached 1.6.18 sends.</summary>
public class BinaryProtocolTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Get_miss_is_not_found_and_echoes_the_opaque()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Get, "foo", opaque: 7));
        AssertResponse(Error(BinaryOpcode.Get, 0x01, opaque: 7), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.GetK, "foo", opaque: 8));
        AssertResponse(Response(BinaryOpcode.GetK, 0x01, opaque: 8, key: "foo"), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Set_then_get_getk_returns_flags_value_and_the_same_cas()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Set, "foo", StoreExtras(0xdeadbeef), "bar", opaque: 1));
        var cas = AssertResponse(Response(BinaryOpcode.Set, opaque: 1), await client.ReadResponseAsync(), withCas: true);

        await client.SendAsync(Request(BinaryOpcode.Get, "foo"));
        AssertResponse(Response(BinaryOpcode.Get, cas: cas, extras: UInt32(0xdeadbeef), value: "bar"), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.GetK, "foo"));
        AssertResponse(Response(BinaryOpcode.GetK, cas: cas, extras: UInt32(0xdeadbeef), key: "foo", value: "bar"), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Add_replace_and_cas_answer_as_memcached()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Add, "k", StoreExtras(0), "1"));
        var cas = AssertResponse(Response(BinaryOpcode.Add), await client.ReadResponseAsync(), withCas: true);

        await client.SendAsync(Request(BinaryOpcode.Add, "k", StoreExtras(0), "2"));
        AssertResponse(Error(BinaryOpcode.Add, 0x02), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Replace, "nokey", StoreExtras(0), "2"));
        AssertResponse(Error(BinaryOpcode.Replace, 0x01), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Set, "k", StoreExtras(0), "2", cas: cas + 1000));
        AssertResponse(Error(BinaryOpcode.Set, 0x02), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Set, "nokey", StoreExtras(0), "2", cas: 5));
        AssertResponse(Error(BinaryOpcode.Set, 0x01), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Replace, "k", StoreExtras(0), "2", cas: cas + 1000));
        AssertResponse(Error(BinaryOpcode.Replace, 0x02), await client.ReadResponseAsync());

        await client.SendAsync(Request(BinaryOpcode.Set, "k", StoreExtras(0), "3", cas: cas));
        var newCas = AssertResponse(Response(BinaryOpcode.Set), await client.ReadResponseAsync(), withCas: true);
        Assert.NotEqual(cas, newCas);
        await client.SendAsync(Request(BinaryOpcode.Get, "k"));
        AssertResponse(Response(BinaryOpcode.Get, cas: newCas, extras: UInt32(0), value: "3"), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Append_and_prepend_keep_flags_and_refuse_missing_keys()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Append, "nokey", value: "x"));
        AssertResponse(Error(BinaryOpcode.Append, 0x05), await client.ReadResponseAsync());

        await client.SendAsync(Concat(
            Request(BinaryOpcode.Set, "k", StoreExtras(9), "mid"),
            Request(BinaryOpcode.Append, "k", value: ">"),
            Request(BinaryOpcode.Prepend, "k", value: "<")));
        AssertResponse(Response(BinaryOpcode.Set), await client.ReadResponseAsync(), withCas: true);
        AssertResponse(Response(BinaryOpcode.Append), await client.ReadResponseAsync(), withCas: true);
        var cas = AssertResponse(Response(BinaryOpcode.Prepend), await client.ReadResponseAsync(), withCas: true);

        await client.SendAsync(Request(BinaryOpcode.Append, "k", value: "!", cas: cas + 1000));
        AssertResponse(Error(BinaryOpcode.Append, 0x02), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Get, "k"));
        AssertResponse(Response(BinaryOpcode.Get, cas: cas, extras: UInt32(9), value: "<mid>"), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Delete_hits_misses_and_compares_cas()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Set, "k", StoreExtras(0), "v"));
        var cas = AssertResponse(Response(BinaryOpcode.Set), await client.ReadResponseAsync(), withCas: true);

        await client.SendAsync(Request(BinaryOpcode.Delete, "k", cas: cas + 1000));
        AssertResponse(Error(BinaryOpcode.Delete, 0x02), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Delete, "k", cas: cas));
        AssertResponse(Response(BinaryOpcode.Delete), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Delete, "k"));
        AssertResponse(Error(BinaryOpcode.Delete, 0x01), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Incr_and_decr_create_with_the_initial_value_unless_told_not_to()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Increment, "c", DeltaExtras(1, 5, 0xffffffff)));
        AssertResponse(Error(BinaryOpcode.Increment, 0x01), await client.ReadResponseAsync());

        await client.SendAsync(Request(BinaryOpcode.Increment, "c", DeltaExtras(1, 5, 0)));
        var created = AssertResponse(Response(BinaryOpcode.Increment, value: "\0\0\0\0\0\0\0\x05"), await client.ReadResponseAsync(), withCas: true);
        await client.SendAsync(Request(BinaryOpcode.Increment, "c", DeltaExtras(10, 5, 0)));
        var incremented = AssertResponse(Response(BinaryOpcode.Increment, value: "\0\0\0\0\0\0\0\x0f"), await client.ReadResponseAsync(), withCas: true);
        Assert.NotEqual(created, incremented);
        await client.SendAsync(Request(BinaryOpcode.Decrement, "c", DeltaExtras(100, 5, 0)));
        AssertResponse(Response(BinaryOpcode.Decrement, value: "\0\0\0\0\0\0\0\0"), await client.ReadResponseAsync(), withCas: true);

        await client.SendAsync(Concat(Request(BinaryOpcode.Set, "t", StoreExtras(0), "text"), Request(BinaryOpcode.Increment, "t", DeltaExtras(1, 0, 0))));
        AssertResponse(Response(BinaryOpcode.Set), await client.ReadResponseAsync(), withCas: true);
        AssertResponse(Error(BinaryOpcode.Increment, 0x06), await client.ReadResponseAsync());

        // Stored as decimal text, written in place as memcached does: 15 decremented to 0 reads back "0 ".
        await client.SendAsync(Request(BinaryOpcode.Get, "c"));
        AssertResponse(Response(BinaryOpcode.Get, extras: UInt32(0), value: "0 "), await client.ReadResponseAsync(), withCas: true);
    }

    [Fact]
    public async Task Touch_gat_and_gatk_return_flags_and_cas()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Set, "k", StoreExtras(3), "v"));
        var cas = AssertResponse(Response(BinaryOpcode.Set), await client.ReadResponseAsync(), withCas: true);

        await client.SendAsync(Request(BinaryOpcode.Touch, "k", UInt32(100)));
        AssertResponse(Response(BinaryOpcode.Touch, cas: cas, extras: UInt32(3)), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Touch, "nokey", UInt32(100)));
        AssertResponse(Error(BinaryOpcode.Touch, 0x01), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Gat, "k", UInt32(100)));
        AssertResponse(Response(BinaryOpcode.Gat, cas: cas, extras: UInt32(3), value: "v"), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.GatK, "k", UInt32(100)));
        AssertResponse(Response(BinaryOpcode.GatK, cas: cas, extras: UInt32(3), key: "k", value: "v"), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Gat, "nokey", UInt32(100)));
        AssertResponse(Error(BinaryOpcode.Gat, 0x01), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Gat_with_a_past_expiry_hides_the_item()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(
            Request(BinaryOpcode.Set, "k", StoreExtras(0), "v"),
            Request(BinaryOpcode.Gat, "k", UInt32(1_000_000_000)),
            Request(BinaryOpcode.Get, "k")));
        AssertResponse(Response(BinaryOpcode.Set), await client.ReadResponseAsync(), withCas: true);
        await client.ReadResponseAsync();
        AssertResponse(Error(BinaryOpcode.Get, 0x01), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Noop_version_verbosity_and_flush()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(
            Request(BinaryOpcode.Noop, opaque: 3),
            Request(BinaryOpcode.Version),
            Request(BinaryOpcode.Verbosity, extras: UInt32(1)),
            Request(BinaryOpcode.Set, "k", StoreExtras(0), "v"),
            Request(BinaryOpcode.Flush),
            Request(BinaryOpcode.Get, "k"),
            Request(BinaryOpcode.Flush, extras: UInt32(0))));
        AssertResponse(Response(BinaryOpcode.Noop, opaque: 3), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Version, value: ServerContext.Version), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Verbosity), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Set), await client.ReadResponseAsync(), withCas: true);
        AssertResponse(Response(BinaryOpcode.Flush), await client.ReadResponseAsync());
        AssertResponse(Error(BinaryOpcode.Get, 0x01), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Flush), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Stat_sends_one_response_per_stat_and_ends_with_an_empty_key()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Stat, opaque: 4));
        var names = new List<string>();
        while (true)
        {
            var response = await client.ReadResponseAsync();
            Assert.Equal(0x81, response[0]);
            Assert.Equal((byte)BinaryOpcode.Stat, response[1]);
            Assert.Equal(4u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(response.AsSpan(12)));
            var keyLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(response.AsSpan(2));
            if (keyLength == 0)
            {
                AssertResponse(Response(BinaryOpcode.Stat, opaque: 4), response);
                break;
            }

            names.Add(System.Text.Encoding.ASCII.GetString(response, 24, keyLength));
        }

        Assert.Contains("pid", names);
        Assert.Contains("curr_items", names);

        await client.SendAsync(Request(BinaryOpcode.Stat, "bogus"));
        AssertResponse(Error(BinaryOpcode.Stat, 0x01), await client.ReadResponseAsync());
        await client.SendAsync(Request(BinaryOpcode.Stat, "settings"));
        var first = await client.ReadResponseAsync();
        Assert.Equal("maxbytes", System.Text.Encoding.ASCII.GetString(first, 24, 8));
    }

    [Fact]
    public async Task Quit_replies_then_closes_and_quitq_closes_silently()
    {
        await using var server = await TestServer.StartAsync();
        using (var client = await server.ConnectAsync())
        {
            await client.SendAsync(Concat(Request(BinaryOpcode.Quit, opaque: 2), Request(BinaryOpcode.Noop)));
            var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
            Assert.True(closed);
            AssertResponse(Response(BinaryOpcode.Quit, opaque: 2), bytes);
        }

        using (var client = await server.ConnectAsync())
        {
            await client.SendAsync(Concat(Request(BinaryOpcode.QuitQ), Request(BinaryOpcode.Noop)));
            var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
            Assert.True(closed);
            Assert.Empty(bytes);
        }
    }

    [Fact]
    public async Task Quiet_pipeline_answers_only_hits_and_errors_then_the_noop()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(
            Request(BinaryOpcode.SetQ, "a", StoreExtras(1), "A", opaque: 1),
            Request(BinaryOpcode.AddQ, "a", StoreExtras(0), "x", opaque: 2),
            Request(BinaryOpcode.ReplaceQ, "nokey", StoreExtras(0), "x", opaque: 3),
            Request(BinaryOpcode.AppendQ, "a", value: "+", opaque: 4),
            Request(BinaryOpcode.PrependQ, "a", value: "-", opaque: 5),
            Request(BinaryOpcode.GetQ, "nokey", opaque: 6),
            Request(BinaryOpcode.GetQ, "a", opaque: 7),
            Request(BinaryOpcode.GetKQ, "a", opaque: 8),
            Request(BinaryOpcode.IncrementQ, "n", DeltaExtras(1, 1, 0), opaque: 9),
            Request(BinaryOpcode.DecrementQ, "n", DeltaExtras(1, 1, 0), opaque: 10),
            Request(BinaryOpcode.GatQ, "nokey", UInt32(0), opaque: 11),
            Request(BinaryOpcode.GatKQ, "nokey", UInt32(0), opaque: 12),
            Request(BinaryOpcode.DeleteQ, "nokey", opaque: 13),
            Request(BinaryOpcode.DeleteQ, "n", opaque: 14),
            Request(BinaryOpcode.FlushQ, opaque: 15),
            Request(BinaryOpcode.Noop, opaque: 16)));
        AssertResponse(Error(BinaryOpcode.AddQ, 0x02, opaque: 2), await client.ReadResponseAsync());
        AssertResponse(Error(BinaryOpcode.ReplaceQ, 0x01, opaque: 3), await client.ReadResponseAsync());
        var cas = AssertResponse(Response(BinaryOpcode.GetQ, opaque: 7, extras: UInt32(1), value: "-A+"), await client.ReadResponseAsync(), withCas: true);
        AssertResponse(Response(BinaryOpcode.GetKQ, opaque: 8, cas: cas, extras: UInt32(1), key: "a", value: "-A+"), await client.ReadResponseAsync());
        AssertResponse(Error(BinaryOpcode.DeleteQ, 0x01, opaque: 13), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Noop, opaque: 16), await client.ReadResponseAsync());
        var (rest, _) = await client.ReadUntilQuietAsync(Quiet);
        Assert.Empty(rest);
    }

    [Fact]
    public async Task Too_large_value_is_refused_the_stream_stays_in_sync_and_the_old_value_goes()
    {
        await using var server = await TestServer.StartAsync(options => options.MaxItemSize = 4096);
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(
            Request(BinaryOpcode.Set, "k", StoreExtras(0), "old"),
            Request(BinaryOpcode.Set, "k", StoreExtras(0), new string('x', 4096 + 100)),
            Request(BinaryOpcode.Get, "k"),
            Request(BinaryOpcode.Noop)));
        AssertResponse(Response(BinaryOpcode.Set), await client.ReadResponseAsync(), withCas: true);
        AssertResponse(Error(BinaryOpcode.Set, 0x03), await client.ReadResponseAsync());
        AssertResponse(Error(BinaryOpcode.Get, 0x01), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Noop), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task A_body_far_beyond_the_item_limit_is_answered_too_large_skipped_and_the_stream_stays_in_sync()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        var oversized = Request(BinaryOpcode.Set, "k", StoreExtras(0), new string('v', (1024 * 1024) + 4096));
        await client.SendAsync([.. oversized, .. Request(BinaryOpcode.Noop)]);
        var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(2));
        Assert.False(closed);
        AssertResponse([.. Error(BinaryOpcode.Set, 0x03), .. Response(BinaryOpcode.Noop)], bytes);
    }

    [Fact]
    public async Task Add_with_a_cas_on_a_missing_key_is_not_found_and_stores_nothing()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync([.. Request(BinaryOpcode.Add, "fresh", StoreExtras(0), "v", cas: 5), .. Request(BinaryOpcode.Get, "fresh")]);
        var (bytes, _) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(1));
        AssertResponse([.. Error(BinaryOpcode.Add, 0x01), .. Error(BinaryOpcode.Get, 0x01)], bytes);
    }

    [Fact]
    public async Task A_huge_declared_body_is_answered_too_large_before_it_arrives()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        var frame = Request(BinaryOpcode.Set, "k", StoreExtras(0), "v");
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), 0x7fffffff);
        await client.SendAsync(frame);
        var (bytes, _) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(2));
        AssertResponse(Error(BinaryOpcode.Set, 0x03), bytes);
    }

    public static TheoryData<string, byte[]> MalformedHeaders => new()
    {
        { "get with extras", Request(BinaryOpcode.Get, "foo"u8.ToArray(), [0, 0, 0, 0], []) },
        { "get without key", Request(BinaryOpcode.Get) },
        { "set without extras", Request(BinaryOpcode.Set, "foo", value: "x") },
        { "key of 251 bytes", Request(BinaryOpcode.Get, new string('k', 251)) },
        { "noop with a key", Request(BinaryOpcode.Noop, "abc") },
        { "incr with short extras", Request(BinaryOpcode.Increment, "c", new byte[4]) },
        { "flush with 2 extras", Request(BinaryOpcode.Flush, extras: new byte[2]) },
        { "touch without extras", Request(BinaryOpcode.Touch, "k") },
        { "prepend with extras", Request(BinaryOpcode.Prepend, "k", StoreExtras(0), "x") },
        { "delete with a value", Request(BinaryOpcode.Delete, "k", value: "x") },
    };

    [Theory]
    [MemberData(nameof(MalformedHeaders))]
    public async Task Malformed_header_is_invalid_arguments_and_closes(string name, byte[] frame)
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(frame, Request(BinaryOpcode.Noop)));
        var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
        Assert.True(closed, name);
        AssertResponse(Error((BinaryOpcode)frame[1], 0x04), bytes);
    }

    [Fact]
    public async Task Key_of_250_bytes_is_accepted()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Get, new string('k', 250)));
        AssertResponse(Error(BinaryOpcode.Get, 0x01), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Key_and_extras_longer_than_the_body_is_unknown_command_and_closes()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        var frame = Request(BinaryOpcode.Get, "foo");
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), 2);
        await client.SendAsync(frame);
        var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
        Assert.True(closed);
        AssertResponse(Error(BinaryOpcode.Get, 0x81), bytes);
    }

    [Fact]
    public async Task Bad_magic_after_the_first_frame_closes_without_a_reply()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(Request(BinaryOpcode.Noop), Request(BinaryOpcode.Noop, [], [], [], magic: 0x81), Request(BinaryOpcode.Noop)));
        var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
        Assert.True(closed);
        AssertResponse(Response(BinaryOpcode.Noop), bytes);
    }

    [Theory]
    [InlineData(0x55)]
    [InlineData(0x20)]
    [InlineData(0x21)]
    [InlineData(0x22)]
    public async Task Unknown_opcode_and_sasl_are_unknown_command_and_the_stream_stays_in_sync(byte opcode)
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(
            Request((BinaryOpcode)opcode, "PLAIN", value: "\0user\0secret", opaque: 5),
            Request(BinaryOpcode.Noop, opaque: 6)));
        AssertResponse(Error((BinaryOpcode)opcode, 0x81, opaque: 5), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Noop, opaque: 6), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Binary_writes_are_seen_by_text_clients()
    {
        await using var server = await TestServer.StartAsync();
        using var binary = await server.ConnectAsync();
        await binary.SendAsync(Request(BinaryOpcode.Set, "shared", StoreExtras(5), "hello"));
        AssertResponse(Response(BinaryOpcode.Set), await binary.ReadResponseAsync(), withCas: true);
        using var text = await server.ConnectAsync();
        await text.RoundTripAsync("get shared\r\n", "VALUE shared 5 5\r\nhello\r\nEND\r\n");
    }
}
