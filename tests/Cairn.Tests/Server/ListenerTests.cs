using System.Net;
using System.Net.Sockets;
using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

public class ListenerTests
{
    [Fact]
    public async Task Connections_past_the_limit_get_memcached_error_then_close()
    {
        await using var server = await TestServer.StartAsync(options => options.MaxConnections = 2);
        using var first = await server.ConnectAsync();
        using var second = await server.ConnectAsync();
        await first.RoundTripAsync("get a\r\n", "END\r\n");
        await second.RoundTripAsync("get a\r\n", "END\r\n");

        using var third = await server.ConnectAsync();
        var (bytes, closed) = await third.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("ERROR Too many open connections\r\n", System.Text.Encoding.ASCII.GetString(bytes));
        Assert.True(closed);

        var stats = await TextProtocolTests.ReadStatsAsync(first, "stats\r\n");
        Assert.Equal("1", stats["rejected_connections"]);
        Assert.Equal("2", stats["curr_connections"]);
    }

    [Fact]
    public async Task Unix_socket_serves_the_protocol()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cairn-{Guid.NewGuid():N}.sock");
        try
        {
            await using var server = await TestServer.StartAsync(options =>
            {
                options.UnixSocketPath = path;
                options.PortGiven = false;
            });
            Assert.Empty(server.Server.EndPoints);
            using var client = await TestClient.ConnectAsync(new UnixDomainSocketEndPoint(path));
            await client.RoundTripAsync("set u 0 0 1\r\nx\r\nget u\r\n", "STORED\r\nVALUE u 0 1\r\nx\r\nEND\r\n");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task IPv6_loopback_is_served_when_the_host_has_it()
    {
        if (!Socket.OSSupportsIPv6 || !HasIPv6Loopback())
        {
            return;
        }

        await using var server = await TestServer.StartAsync(options => options.ListenAddresses.Add("::1"));
        Assert.Equal(IPAddress.IPv6Loopback, server.EndPoint.Address);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("get six\r\n", "END\r\n");
    }

    [Fact]
    public async Task Stop_finishes_the_batch_closes_clients_and_frees_the_port_at_once()
    {
        var server = await TestServer.StartAsync();
        var port = server.Port;
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set s 0 0 1\r\nx\r\n", "STORED\r\n");

        await server.DisposeAsync();
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));

        // The same port again, immediately: nothing lingers in a way that blocks a restart.
        await using var again = await TestServer.StartAsync(options => options.Port = port);
        Assert.Equal(port, again.Port);
        using var second = await again.ConnectAsync();
        await second.RoundTripAsync("get s\r\n", "END\r\n");
    }

    [Fact]
    public async Task Shutdown_command_with_A_stops_the_server()
    {
        await using var server = await TestServer.StartAsync(options => options.ShutdownCommandEnabled = true);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("shutdown bogus\r\n", "CLIENT_ERROR invalid shutdown mode\r\n");
        await client.SendAsync("shutdown\r\n");
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await server.Server.WaitForShutdownAsync(timeout.Token);
        Assert.True(server.Server.Lifetime.ApplicationStopping.IsCancellationRequested);
    }

    [Fact]
    public async Task Flush_all_is_refused_with_F()
    {
        await using var server = await TestServer.StartAsync(options => options.FlushEnabled = false);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("flush_all\r\n", "CLIENT_ERROR flush_all not allowed\r\n");
    }

    private static bool HasIPv6Loopback()
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
