using System.Net;
using System.Net.Sockets;
using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

/// <summary>A start that cannot go ahead says so in one line naming the flag and the fix, with a sysexits code; never a stack trace.</summary>
public sealed class StartupErrorTests : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "cairn-startup-" + Guid.NewGuid().ToString("N"));

    public StartupErrorTests() => Directory.CreateDirectory(_scratch);

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task A_data_dir_that_is_a_file_is_named_with_cant_create()
    {
        var file = Path.Combine(_scratch, "a-file");
        await File.WriteAllTextAsync(file, "not a directory");
        var (code, line) = await StartAsync("--data-dir", file);
        Assert.Equal(73, code);
        Assert.Contains($"--data-dir {file} is a file, not a directory", line);
    }

    [Fact]
    public async Task A_data_dir_under_a_file_cannot_be_created_and_says_why()
    {
        var file = Path.Combine(_scratch, "a-file");
        await File.WriteAllTextAsync(file, "not a directory");
        var (code, line) = await StartAsync("--data-dir", Path.Combine(file, "data"));
        Assert.Equal(73, code);
        Assert.Contains("cannot be created", line);
        Assert.Contains("every parent is a directory", line);
    }

    [TmpfsFact]
    public async Task A_data_dir_that_cannot_be_written_is_refused_before_the_log_opens()
    {
        var mount = Path.Combine(_scratch, "ro");
        Directory.CreateDirectory(mount);
        Assert.True(TmpfsFactAttribute.MountReadOnly(mount));
        try
        {
            var (code, line) = await StartAsync("--data-dir", mount);
            Assert.Equal(73, code);
            Assert.Contains($"--data-dir {mount} cannot be written", line);
        }
        finally
        {
            TmpfsFactAttribute.Unmount(mount);
        }
    }

    [Theory]
    [InlineData("2g", "1024", "higher than a gigabyte")]
    [InlineData("600m", "1000", "higher than 1/2 of memory max (-m 1000); raise -m to at least 1200")]
    [InlineData("512", "64", "cannot be less than 1024 bytes")]
    [InlineData("99999999999999g", "64", "too large")]
    public async Task Item_size_beyond_memcacheds_limits_is_a_usage_error(string itemSize, string memory, string words)
    {
        var (code, line) = await StartAsync("-I", itemSize, "-m", memory, "--no-persist");
        Assert.Equal(64, code);
        Assert.Contains($"-I {itemSize}", line);
        Assert.Contains(words, line);
    }

    [Fact]
    public async Task An_address_not_on_this_machine_is_named()
    {
        // 192.0.2.0/24 is TEST-NET-1: documentation only, never assigned to an interface.
        var (code, line) = await StartAsync("-l", "192.0.2.1", "--no-persist");
        Assert.Equal(71, code);
        Assert.Contains("-l 192.0.2.1", line);
        Assert.Contains("not on this machine", line);
    }

    [Fact]
    public async Task A_port_in_use_is_one_short_line()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        var (code, line) = await StartAsync("-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--no-persist");
        Assert.Equal(69, code);
        Assert.Contains($"-p {port}: the address is already in use", line);
        Assert.True(line.Length < 200, line);
    }

    [Fact]
    public async Task A_unix_socket_left_by_a_killed_server_is_replaced()
    {
        var path = Path.Combine(_scratch, "cairn.sock");
        // Bound and left without unlinking, as kill -9 leaves it (.NET's Socket would unlink it on Dispose).
        var (bound, _) = await ExternalTool.RunAsync("python3", ["-c", $"import socket; socket.socket(socket.AF_UNIX).bind('{path}')"], TimeSpan.FromSeconds(30));
        Assert.Equal(0, bound);
        Assert.True(Path.Exists(path));
        await using var server = await TestServer.StartAsync(options =>
        {
            options.UnixSocketPath = path;
            options.Persist = false;
        });
        using var client = await TestClient.ConnectAsync(new UnixDomainSocketEndPoint(path));
        await client.RoundTripAsync("version\r\n", $"VERSION {Cairn.Server.Hosting.ServerContext.Version}\r\n");
    }

    private static async Task<(int Code, string Line)> StartAsync(params string[] args)
    {
        var (code, output) = await ExternalTool.RunAsync("dotnet", [ChildServer.ServerDll, "-p", "0", .. args], TimeSpan.FromSeconds(60));
        var line = output.Trim();
        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain("   at ", line);
        Assert.StartsWith("cairn-server: ", line);
        return (code, line);
    }
}
