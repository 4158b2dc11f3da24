using Cairn.Protocol.Binary;
using Cairn.Server.Hosting;
using Cairn.Tests.Support;
using static Cairn.Tests.Binary.BinaryFrames;

namespace Cairn.Tests.Binary;

/// <summary>-B auto|ascii|binary and per-connection detection by the first byte.</summary>
public class BinaryModeTests
{
    [Theory]
    [InlineData("auto", ProtocolMode.Auto)]
    [InlineData("ascii", ProtocolMode.Ascii)]
    [InlineData("binary", ProtocolMode.Binary)]
    public void Dash_B_selects_the_protocol(string value, ProtocolMode expected)
    {
        Assert.Equal(expected, CommandLine.Parse(["-B", value]).Protocol);
        Assert.Equal(expected, CommandLine.Parse([$"--protocol={value}"]).Protocol);
    }

    [Fact]
    public void Default_is_auto_and_nonsense_is_refused()
    {
        Assert.Equal(ProtocolMode.Auto, CommandLine.Parse([]).Protocol);
        Assert.Throws<CommandLineException>(() => CommandLine.Parse(["-B", "udp"]));
    }

    [Fact]
    public async Task Auto_serves_text_and_binary_connections_side_by_side()
    {
        await using var server = await TestServer.StartAsync();
        using var text = await server.ConnectAsync();
        using var binary = await server.ConnectAsync();
        await binary.SendAsync(Request(BinaryOpcode.Noop, opaque: 1));
        await text.RoundTripAsync("set k 0 0 1\r\nv\r\n", "STORED\r\n");
        AssertResponse(Response(BinaryOpcode.Noop, opaque: 1), await binary.ReadResponseAsync());
    }

    [Fact]
    public async Task A_text_connection_stays_text()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.SendAsync("version\r\n");
        Assert.StartsWith("VERSION ", await client.ReadLineAsync(), StringComparison.Ordinal);

        // As memcached: once text, binary bytes are read as a text line.
        await client.SendAsync(Concat(Request(BinaryOpcode.Noop), "\r\n"u8.ToArray()));
        Assert.Equal("ERROR\r\n", await client.ReadLineAsync());
    }

    [Fact]
    public async Task Ascii_mode_reads_binary_bytes_as_text()
    {
        await using var server = await TestServer.StartAsync(options => options.Protocol = ProtocolMode.Ascii);
        using var client = await server.ConnectAsync();
        await client.SendAsync(Concat(Request(BinaryOpcode.Noop), "version\r\n"u8.ToArray()));
        Assert.Equal("ERROR\r\n", await client.ReadLineAsync());
    }

    [Fact]
    public async Task Binary_mode_drops_a_text_connection_once_a_header_fails_its_magic()
    {
        await using var server = await TestServer.StartAsync(options => options.Protocol = ProtocolMode.Binary);
        using (var client = await server.ConnectAsync())
        {
            await client.SendAsync("get some_key_long_enough_for_a_header\r\n");
            var (bytes, closed) = await client.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
            Assert.True(closed);
            Assert.Empty(bytes);
        }

        using (var client = await server.ConnectAsync())
        {
            await client.SendAsync(Request(BinaryOpcode.Noop));
            AssertResponse(Response(BinaryOpcode.Noop), await client.ReadResponseAsync());
        }
    }
}
