using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

/// <summary>The real executable as a child process: signals, exit codes, and the port after a stop.</summary>
public partial class ProcessLifecycleTests
{
    [Fact]
    public async Task Sigterm_exits_zero_after_answering_and_the_port_rebinds_at_once()
    {
        using var server = await StartChildAsync("-p", "0");
        using (var client = await TestClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port)))
        {
            await client.RoundTripAsync("set k 0 0 1\r\nx\r\nget k\r\n", "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n");
            await SignalAsync(server.Process.Id, "TERM");
            Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await server.Process.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, server.Process.ExitCode);

        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, server.Port));
        listener.Listen();
    }

    [Fact]
    public async Task Bad_flag_is_refused_with_a_message_and_a_usage_exit_code()
    {
        var (exitCode, output) = await ExternalTool.RunAsync("dotnet", [ServerDll, "--no-such-flag"], TimeSpan.FromSeconds(30));
        Assert.Equal(64, exitCode);
        Assert.Contains("unknown option '--no-such-flag'", output);
    }

    [Fact]
    public async Task Help_and_version_print_and_exit_zero()
    {
        var (helpCode, help) = await ExternalTool.RunAsync("dotnet", [ServerDll, "-h"], TimeSpan.FromSeconds(30));
        Assert.Equal(0, helpCode);
        Assert.Contains("--port", help);
        var (versionCode, version) = await ExternalTool.RunAsync("dotnet", [ServerDll, "-V"], TimeSpan.FromSeconds(30));
        Assert.Equal(0, versionCode);
        Assert.StartsWith("cairn-server 1.6.45-cairn-", version);
    }

    private static string ServerDll => Path.Combine(AppContext.BaseDirectory, "cairn-server.dll");

    private static async Task SignalAsync(int pid, string signal)
    {
        var (code, output) = await ExternalTool.RunAsync("kill", [$"-{signal}", pid.ToString()], TimeSpan.FromSeconds(10));
        Assert.True(code == 0, output);
    }

    private static async Task<ChildServer> StartChildAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(ServerDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start cairn-server");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var line = await process.StandardError.ReadLineAsync(timeout.Token)
                ?? throw new InvalidOperationException("cairn-server exited before listening");
            var match = ListeningLine().Match(line);
            if (match.Success)
            {
                return new ChildServer(process, int.Parse(match.Groups[1].Value));
            }
        }
    }

    [GeneratedRegex(@"listening on 127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();

    private sealed class ChildServer(Process process, int port) : IDisposable
    {
        public Process Process { get; } = process;

        public int Port { get; } = port;

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
            }

            Process.Dispose();
        }
    }
}
