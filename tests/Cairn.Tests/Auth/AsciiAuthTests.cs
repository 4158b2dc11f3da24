using Cairn.Protocol.Binary;
using Cairn.Server.Hosting;
using Cairn.Tests.Support;
using static Cairn.Tests.Binary.BinaryFrames;

namespace Cairn.Tests.Auth;

/// <summary>-Y: memcached's ascii authentication, replies recorded from memcached 1.6.18 -Y.</summary>
public sealed class AsciiAuthTests : IDisposable
{
    private readonly AuthFiles _files = new();

    private Task<TestServer> StartAsync() => TestServer.StartAsync(options => options.AuthFile = _files.PasswordFile);

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Right_password_is_stored_and_opens_the_connection()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set anykey 0 0 12\r\nalice secret\r\n", "STORED\r\n");
        await client.RoundTripAsync("set k 0 0 1\r\nv\r\nget k\r\n", "STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n");
    }

    [Fact]
    public async Task Wrong_password_fails_and_the_connection_may_try_again()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set a 0 0 11\r\nalice wrong\r\n", "CLIENT_ERROR authentication failure\r\n");
        await client.RoundTripAsync("set a 0 0 11\r\nmallory x y\r\n", "CLIENT_ERROR authentication failure\r\n");
        await client.RoundTripAsync("get k\r\n", "CLIENT_ERROR unauthenticated\r\n");
        await client.RoundTripAsync("set a 0 0 12\r\nalice secret\r\n", "STORED\r\n");
        await client.RoundTripAsync("get k\r\n", "END\r\n");
    }

    [Theory]
    [InlineData("get k\r\n")]
    [InlineData("version\r\n")]
    [InlineData("stats\r\n")]
    [InlineData("flush_all\r\n")]
    [InlineData("mg k v\r\n")]
    [InlineData("sets a 0 0 12\r\n")]
    [InlineData("set a 0 0\r\n")]
    [InlineData("set a 0 0 x\r\n")]
    [InlineData("\r\n")]
    public async Task Anything_else_first_is_unauthenticated(string line)
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync(line, "CLIENT_ERROR unauthenticated\r\n");
        await client.RoundTripAsync("get k\r\n", "CLIENT_ERROR unauthenticated\r\n");
    }

    [Fact]
    public async Task Commands_before_authenticating_change_nothing()
    {
        await using var server = await StartAsync();
        using (var intruder = await server.ConnectAsync())
        {
            // A set before authenticating is the handshake itself: its data is taken as credentials, never stored.
            await intruder.RoundTripAsync("delete k\r\nset k 0 0 1\r\nv\r\n", "CLIENT_ERROR unauthenticated\r\nCLIENT_ERROR bad authentication token format\r\n");
        }

        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set a 0 0 12\r\nalice secret\r\nget k\r\n", "STORED\r\nEND\r\n");
    }

    [Fact]
    public async Task Pipelined_attempts_after_a_failure_are_each_answered_in_order()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();

        // memcached 1.6.18 overwrites the failure's reply with the next one; Cairn answers each.
        await client.RoundTripAsync(
            "set a 0 0 11\r\nalice wrong\r\nget k\r\nset a 0 0 12\r\nalice secret\r\nset k 0 0 1\r\nv\r\nget k\r\n",
            "CLIENT_ERROR authentication failure\r\nCLIENT_ERROR unauthenticated\r\nSTORED\r\nSTORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n");
    }

    [Fact]
    public async Task Malformed_tokens_are_answered_as_memcached_does()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set a 0 0 5\r\nalice\r\n", "CLIENT_ERROR bad authentication token format\r\n");
        await client.RoundTripAsync("set a 0 0 5\r\nalicexx", "CLIENT_ERROR bad command line termination\r\n");
        await client.RoundTripAsync("set a 0 0 16 noreply\r\nalice secret xyz\r\n", "STORED\r\n");
    }

    [Fact]
    public async Task Split_handshake_is_answered_once_complete()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync("set a 0 0 12\r\nali");
        var (early, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(200));
        Assert.Empty(early);
        Assert.False(closed);
        await client.RoundTripAsync("ce secret\r\nversion\r\n", "STORED\r\nVERSION " + ServerContext.Version + "\r\n");
    }

    [Fact]
    public async Task After_a_failure_the_next_attempt_waits_for_the_auth_failure_delay()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestServer.StartAsync(
            options =>
            {
                options.AuthFile = _files.PasswordFile;
                options.AuthFailureDelay = TimeSpan.FromSeconds(2);
            },
            time);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set a 0 0 11\r\nalice wrong\r\n", "CLIENT_ERROR authentication failure\r\n");
        await client.SendAsync("set a 0 0 12\r\nalice secret\r\n");
        var (early, _) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(300));
        Assert.Empty(early);
        time.Advance(TimeSpan.FromSeconds(2));
        await client.ExpectAsync("STORED\r\n");
    }

    [Fact]
    public async Task An_absurd_declared_length_is_refused_at_once_and_nothing_is_skipped()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set foo 0 0 2147483646\r\n", "CLIENT_ERROR auth token too long\r\n");
        await client.RoundTripAsync("set a 0 0 12\r\nalice secret\r\n", "STORED\r\n");
    }

    [Fact]
    public async Task Oversized_token_is_refused_without_losing_sync()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set a 0 0 5000\r\n" + new string('x', 5000) + "\r\n", "CLIENT_ERROR bad authentication token format\r\n");
        await client.RoundTripAsync("set a 0 0 12\r\nalice secret\r\n", "STORED\r\n");
    }

    [Fact]
    public async Task Binary_connections_are_read_as_text_and_refused()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(Request(BinaryOpcode.Get, "k"), "\r\n"u8.ToArray()));
        var (bytes, _) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(500));
        Assert.Equal("CLIENT_ERROR unauthenticated\r\n", System.Text.Encoding.Latin1.GetString(bytes));
    }

    [Fact]
    public async Task Stats_counts_auth_commands_and_errors()
    {
        await using var server = await StartAsync();
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set a 0 0 11\r\nalice wrong\r\n", "CLIENT_ERROR authentication failure\r\n");
        await client.RoundTripAsync("set a 0 0 12\r\nalice secret\r\n", "STORED\r\n");
        await client.SendAsync("stats\r\n");
        var lines = new List<string>();
        while (true)
        {
            var line = await client.ReadLineAsync();
            if (line == "END\r\n")
            {
                break;
            }

            lines.Add(line);
        }

        Assert.Contains("STAT auth_cmds 2\r\n", lines);
        Assert.Contains("STAT auth_errors 1\r\n", lines);
    }
}
