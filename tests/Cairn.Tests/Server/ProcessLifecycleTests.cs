using System.Net;
using System.Net.Sockets;
using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

/// <summary>The real executable as a child process: signals, exit codes, and the port after a stop.</summary>
public class ProcessLifecycleTests
{
    [Fact]
    public async Task Sigterm_exits_zero_after_answering_and_the_port_rebinds_at_once()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "cairn-test-" + Guid.NewGuid().ToString("N"));
        using var server = await ChildServer.StartAsync(["--data-dir", dataDirectory]);
        using (var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port)))
        {
            await client.RoundTripAsync("set k 0 0 1\r\nx\r\nget k\r\n", "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n");
            await server.SignalAsync("TERM");
            Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await server.Process.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, server.Process.ExitCode);

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, server.Port));
        listener.Listen();
        Directory.Delete(dataDirectory, recursive: true);
    }

    [Fact]
    public async Task Bad_flag_is_refused_with_a_message_and_a_usage_exit_code()
    {
        var (exitCode, output) = await ExternalTool.RunAsync("dotnet", [ChildServer.ServerDll, "--no-such-flag"], TimeSpan.FromSeconds(30));
        Assert.Equal(64, exitCode);
        Assert.Contains("unknown option '--no-such-flag'", output);
    }

    [Fact]
    public async Task Help_and_version_print_and_exit_zero()
    {
        var (helpCode, help) = await ExternalTool.RunAsync("dotnet", [ChildServer.ServerDll, "-h"], TimeSpan.FromSeconds(30));
        Assert.Equal(0, helpCode);
        Assert.Contains("--port", help);
        var (versionCode, version) = await ExternalTool.RunAsync("dotnet", [ChildServer.ServerDll, "-V"], TimeSpan.FromSeconds(30));
        Assert.Equal(0, versionCode);
        Assert.StartsWith("cairn-server 1.6.45-cairn-", version);
    }
}
