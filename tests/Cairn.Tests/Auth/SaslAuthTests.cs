using System.Text;
using Cairn.Protocol.Binary;
using Cairn.Tests.Binary;
using Cairn.Tests.Support;
using static Cairn.Tests.Binary.BinaryFrames;

namespace Cairn.Tests.Auth;

/// <summary>-S: SASL PLAIN on the binary protocol; replies recorded from memcached 1.6.18 -S (Cyrus, mech_list plain).</summary>
public sealed class SaslAuthTests : IDisposable
{
    private readonly AuthFiles _files = new();

    private Task<TestServer> StartAsync() => TestServer.StartAsync(options =>
    {
        options.SaslEnabled = true;
        options.SaslPasswordFile = _files.PasswordFile;
    });

    public void Dispose() => _files.Dispose();

    private static byte[] Plain(string message) => Encoding.UTF8.GetBytes(message);

    private static byte[] Auth(string message, uint opaque = 0, string mechanism = "PLAIN", BinaryOpcode opcode = BinaryOpcode.SaslAuth) =>
        Request(opcode, Encoding.ASCII.GetBytes(mechanism), [], Plain(message), opaque: opaque);

    private static byte[] AuthFailure(BinaryOpcode opcode, uint opaque = 0) => Response(opcode, 0x20, opaque, value: "Auth failure.");

    [Fact]
    public async Task List_mechanisms_answers_plain()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.SaslListMechs, opaque: 3));
        AssertResponse(Response(BinaryOpcode.SaslListMechs, opaque: 3, value: "PLAIN"), await client.ReadResponseAsync());
    }

    [Theory]
    [InlineData("\0alice\0secret")]
    [InlineData("alice\0alice\0secret")]
    [InlineData("\0bob\0pa ss:word")]
    public async Task Right_credentials_authenticate_and_open_every_command(string message)
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Auth(message, opaque: 1));
        AssertResponse(Response(BinaryOpcode.SaslAuth, opaque: 1, value: "Authenticated"), await client.ReadResponseAsync());
        await client.SendAsync(Concat(Request(BinaryOpcode.Set, "k", StoreExtras(0), "v", opaque: 2), Request(BinaryOpcode.Get, "k", opaque: 3)));
        AssertResponse(Response(BinaryOpcode.Set, opaque: 2), await client.ReadResponseAsync(), withCas: true);
        AssertResponse(Response(BinaryOpcode.Get, opaque: 3, extras: UInt32(0), value: "v"), await client.ReadResponseAsync(), withCas: true);
    }

    [Fact]
    public async Task After_a_failure_the_next_frame_waits_for_the_auth_failure_delay()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(
            options =>
            {
                options.SaslEnabled = true;
                options.SaslPasswordFile = _files.PasswordFile;
                options.AuthFailureDelay = TimeSpan.FromSeconds(2);
            },
            time);
        using var client = await server.ConnectAsync();
        await client.SendAsync(Auth("\0alice\0wrong", opaque: 1));
        AssertResponse(AuthFailure(BinaryOpcode.SaslAuth, opaque: 1), await client.ReadResponseAsync());
        await client.SendAsync(Auth("\0alice\0secret", opaque: 2));
        var (early, _) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(300));
        Assert.Empty(early);
        time.Advance(TimeSpan.FromSeconds(2));
        AssertResponse(Response(BinaryOpcode.SaslAuth, opaque: 2, value: "Authenticated"), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task A_password_file_entry_with_this_hosts_realm_authenticates_the_bare_user()
    {
        // memcached's SASL server appends the host name as realm, so its pwdb may say user@host; clients send the bare user.
        using var files = new AuthFiles($"carol@{Environment.MachineName}:realm-secret\n");
        await using var server = await TestServer.StartAsync(options =>
        {
            options.SaslEnabled = true;
            options.SaslPasswordFile = files.PasswordFile;
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync(Auth("\0carol\0realm-secret", opaque: 1));
        AssertResponse(Response(BinaryOpcode.SaslAuth, opaque: 1, value: "Authenticated"), await client.ReadResponseAsync());
        await client.SendAsync(Auth("\0carol@elsewhere\0realm-secret", opaque: 2));
        AssertResponse(AuthFailure(BinaryOpcode.SaslAuth, opaque: 2), await client.ReadResponseAsync());
    }

    [Theory]
    [InlineData("\0alice\0wrong")]
    [InlineData("\0alice\0secretx")]
    [InlineData("\0mallory\0secret")]
    [InlineData("bob\0alice\0secret")]
    [InlineData("alice\0secret")]
    [InlineData("\0alice\0secret\0")]
    [InlineData("")]
    public async Task Wrong_credentials_fail_and_the_connection_may_try_again(string message)
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Auth(message, opaque: 1));
        AssertResponse(AuthFailure(BinaryOpcode.SaslAuth, 1), await client.ReadResponseAsync());
        await client.SendAsync(Auth("\0alice\0secret", opaque: 2));
        AssertResponse(Response(BinaryOpcode.SaslAuth, opaque: 2, value: "Authenticated"), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Unknown_mechanism_and_step_fail()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(
            Auth("\0alice\0secret", opaque: 1, mechanism: "CRAM-MD5"),
            Auth("\0alice\0secret", opaque: 2, opcode: BinaryOpcode.SaslStep),
            Auth("\0alice\0secret", opaque: 3),
            Auth("x", opaque: 4, opcode: BinaryOpcode.SaslStep),
            Request(BinaryOpcode.Noop, opaque: 5)));
        AssertResponse(AuthFailure(BinaryOpcode.SaslAuth, 1), await client.ReadResponseAsync());
        AssertResponse(AuthFailure(BinaryOpcode.SaslStep, 2), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.SaslAuth, opaque: 3, value: "Authenticated"), await client.ReadResponseAsync());

        // PLAIN has one step; a step afterwards fails, and the connection stays authenticated.
        AssertResponse(AuthFailure(BinaryOpcode.SaslStep, 4), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Noop, opaque: 5), await client.ReadResponseAsync());
    }

    [Theory]
    [InlineData(BinaryOpcode.Get)]
    [InlineData(BinaryOpcode.GetQ)]
    [InlineData(BinaryOpcode.Noop)]
    [InlineData(BinaryOpcode.Stat)]
    [InlineData(BinaryOpcode.Flush)]
    [InlineData(BinaryOpcode.Quit)]
    [InlineData((BinaryOpcode)0x50)]
    public async Task Commands_before_authenticating_get_auth_failure_and_the_connection_closes(BinaryOpcode opcode)
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        var key = opcode is BinaryOpcode.Get or BinaryOpcode.GetQ ? "k" : "";
        await client.SendAsync(Concat(Request(opcode, key, opaque: 9), Request(BinaryOpcode.Noop, opaque: 10)));
        AssertResponse(AuthFailure(opcode, 9), await client.ReadResponseAsync());
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_set_before_authenticating_stores_nothing()
    {
        await using var server = await StartAsync();
        using (var intruder = await server.ConnectAsync())
        {
            await intruder.SendAsync(Request(BinaryOpcode.SetQ, "k", StoreExtras(0), "v"));
            AssertResponse(AuthFailure(BinaryOpcode.SetQ), await intruder.ReadResponseAsync());
        }

        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(Auth("\0alice\0secret"), Request(BinaryOpcode.Get, "k", opaque: 2)));
        AssertResponse(Response(BinaryOpcode.SaslAuth, value: "Authenticated"), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Get, 0x01, 2, value: "Not found"), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Version_is_answered_before_authenticating()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Request(BinaryOpcode.Version, opaque: 4));
        var reply = await client.ReadResponseAsync();
        Assert.Equal(0, reply[6] << 8 | reply[7]);
        Assert.StartsWith("1.6.", Encoding.ASCII.GetString(reply, 24, reply.Length - 24), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_sasl_frames_are_invalid_arguments_as_in_memcached()
    {
        await using var server = await StartAsync();
        using (var client = await server.ConnectAsync())
        {
            await client.SendAsync(Request(BinaryOpcode.SaslListMechs, "x"));
            AssertResponse(Response(BinaryOpcode.SaslListMechs, 0x04, value: "Invalid arguments"), await client.ReadResponseAsync());
            Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        }

        using (var client = await server.ConnectAsync())
        {
            await client.SendAsync(Request(BinaryOpcode.SaslAuth, value: "\0alice\0secret"));
            AssertResponse(Response(BinaryOpcode.SaslAuth, 0x04, value: "Invalid arguments"), await client.ReadResponseAsync());
            Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        }

        using (var client = await server.ConnectAsync())
        {
            // A mechanism name or body too long is refused and skipped; the stream stays in sync.
            await client.SendAsync(Concat(Auth("\0alice\0secret", opaque: 1, mechanism: new string('M', 33)), Auth(new string('x', 5000), opaque: 2), Auth("\0alice\0secret", opaque: 3)));
            AssertResponse(Response(BinaryOpcode.SaslAuth, 0x04, 1, value: "Invalid arguments"), await client.ReadResponseAsync());
            AssertResponse(Response(BinaryOpcode.SaslAuth, 0x04, 2, value: "Invalid arguments"), await client.ReadResponseAsync());
            AssertResponse(Response(BinaryOpcode.SaslAuth, opaque: 3, value: "Authenticated"), await client.ReadResponseAsync());
        }
    }

    [Fact]
    public async Task Truncated_sasl_frame_waits_for_its_body_then_answers_in_sync()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        var frame = Auth("\0alice\0secret", opaque: 7);
        await client.SendAsync(frame[..30]);
        var (early, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(300));
        Assert.Empty(early);
        Assert.False(closed);
        await client.SendAsync(Concat(frame[30..], Request(BinaryOpcode.Noop, opaque: 8)));
        AssertResponse(Response(BinaryOpcode.SaslAuth, opaque: 7, value: "Authenticated"), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.Noop, opaque: 8), await client.ReadResponseAsync());
    }

    [Fact]
    public async Task Truncated_sasl_frame_then_hang_up_leaves_the_server_serving()
    {
        await using var server = await StartAsync();
        using (var client = await server.ConnectAsync())
        {
            var frame = Auth("\0alice\0secret");
            await client.SendAsync(frame[..(frame.Length - 3)]);
        }

        using var next = await server.ConnectAsync();
        await next.SendAsync(Request(BinaryOpcode.SaslListMechs));
        AssertResponse(Response(BinaryOpcode.SaslListMechs, value: "PLAIN"), await next.ReadResponseAsync());
    }

    [Fact]
    public void Sasl_batch_split_at_every_byte_gives_the_same_replies()
    {
        var batch = Concat(
            Request(BinaryOpcode.SaslListMechs, opaque: 1),
            Auth("\0alice\0wrong", opaque: 2),
            Auth("\0alice\0secret", opaque: 3),
            Request(BinaryOpcode.Set, "k", StoreExtras(0), "v", opaque: 4),
            Request(BinaryOpcode.Noop, opaque: 5));
        byte[] Run(params byte[][] chunks)
        {
            using var driver = SessionDriverFor.Binary(options =>
            {
                options.SaslEnabled = true;
                options.SaslPasswordFile = _files.PasswordFile;
            });
            foreach (var chunk in chunks)
            {
                driver.Feed(chunk);
            }

            Assert.False(driver.Closed);
            return driver.Output();
        }

        var whole = Run(batch);
        Assert.Equal(5, CountResponses(whole));
        for (var split = 1; split < batch.Length; split++)
        {
            Assert.Equal(Convert.ToHexString(whole), Convert.ToHexString(Run(batch[..split], batch[split..])));
        }
    }

    private static int CountResponses(byte[] output)
    {
        var count = 0;
        for (var at = 0; at < output.Length; count++)
        {
            at += 24 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(at + 8));
        }

        return count;
    }

    [Fact]
    public async Task Text_connections_are_refused()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync("get some_key_long_enough_for_a_header\r\n");
        var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
        Assert.True(closed);
        Assert.Empty(bytes);
    }

    [Fact]
    public async Task Stats_counts_auth_commands_and_errors()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(Auth("\0alice\0wrong", opaque: 1), Auth("\0alice\0secret", opaque: 2), Request(BinaryOpcode.Stat, opaque: 3)));
        AssertResponse(AuthFailure(BinaryOpcode.SaslAuth, 1), await client.ReadResponseAsync());
        AssertResponse(Response(BinaryOpcode.SaslAuth, opaque: 2, value: "Authenticated"), await client.ReadResponseAsync());
        var stats = new Dictionary<string, string>();
        while (true)
        {
            var reply = await client.ReadResponseAsync();
            var keyLength = reply[2] << 8 | reply[3];
            if (keyLength == 0)
            {
                break;
            }

            stats[Encoding.ASCII.GetString(reply, 24, keyLength)] = Encoding.ASCII.GetString(reply, 24 + keyLength, reply.Length - 24 - keyLength);
        }

        Assert.Equal("2", stats["auth_cmds"]);
        Assert.Equal("1", stats["auth_errors"]);
    }
}
